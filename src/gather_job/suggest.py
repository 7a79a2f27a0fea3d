"""Did-you-mean: the closest names to a word that matched nothing, for messages and hints.

difflib is imported when a word needs a suggestion: most runs never do, and it costs ~1.5 ms.
"""

from __future__ import annotations

from collections.abc import Iterable


def closest(word: str, choices: Iterable[str], *, n: int = 3, cutoff: float = 0.5) -> list[str]:
    """Up to `n` choices close to `word`, the closest first (difflib's ratio, as pypa/build does)."""
    import difflib

    return difflib.get_close_matches(word, sorted(set(choices)), n=n, cutoff=cutoff)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A ' (did you mean 'x'?)' suffix naming the closest choice, or two about equally close, or ''."""
    choices = list(choices)
    same = [c for c in choices if c.casefold() == word.casefold()]  # 'aind' means 'AIND', not 'Ealing'
    close = same[:1] or closest(word, choices, n=2, cutoff=0.6)
    if len(close) == 2:
        import difflib

        first, second = (difflib.SequenceMatcher(None, word, c).ratio() for c in close)
        close = close if first - second < 0.1 else close[:1]
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
