"""Names that look like a core file's but are not read: `Subject.json`, `subject.JSON`, `subject (1).json`.

The pipeline matches names exactly, as the reference does (`subject.json`, or `acquisition*.json` for a
part to merge), and S3 keys are case-sensitive. A scientist's `Subject.json` is therefore skipped at
upload and the subject silently comes from the metadata service instead; an `Acquisition_video.json`
beside `acquisition_behavior.json` is left out of the merge. The job keeps reading exact names only
(a drop-in must read what the reference reads) but says which near misses it sees and what to rename
them to. Pure: names in, a guess out.
"""

from __future__ import annotations

import re

from gather_job.schema import CORE_FILES, MERGEABLE, file_name

# Hidden files, macOS resource forks (`._subject.json`) and editor/Office lock files are never meant.
_NEVER = (".", "~", "#")
_EXTENSION = re.compile(r"(?:\.json)+$")
# What a copy or a download adds: `subject (1)`, `subject copy`, `subject - Copy 2`.
_COPY = re.compile(r"(?:[\s_.-]*(?:\(\d+\)|copy(?:[\s_-]*\d+)?))+$")
# What a person adds to mark a version of the file: `subject_v2`, `procedures_old`, `subject-final`.
_VERSION = re.compile(r"(?:v?\d+|old|new|final|latest|backup|bak|orig|original|updated|fixed|copy)+")
_SIMILAR = 0.85  # difflib ratio for a misspelling: aquisition, subjet, procedurs, instrumnet


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text)


def _similarity(word: str, target: str) -> float:
    """1.0 for the same word up to one plural 's'; else difflib's ratio for words of 5 letters or more."""
    if word in (target, target + "s") or word + "s" == target:
        return 1.0
    if min(len(word), len(target)) < 5:
        return 0.0
    import difflib  # only for a name that no rule claimed; most runs never get here

    return difflib.SequenceMatcher(None, word, target).ratio()


def _rest(stem: str, letters: int) -> str:
    """What follows the first `letters` letters/digits of `stem`, without leading separators."""
    seen = 0
    for index, char in enumerate(stem):
        if seen == letters:
            return stem[index:].lstrip(" _-.")
        if char.isascii() and char.isalnum():
            seen += 1
    return ""


def intended(name: str) -> tuple[str, str] | None:
    """(kind, the name to rename it to) when `name` looks meant as a core file or a part; else None."""
    if name.startswith(_NEVER):
        return None
    cleaned = name.strip()
    lowered = cleaned.lower()
    extension = _EXTENSION.search(lowered)
    if extension is None or len(lowered) != len(cleaned):
        return None
    stem_lowered = _COPY.sub("", lowered[: extension.start()])
    stem = cleaned[: len(stem_lowered)]
    key = _key(stem_lowered)
    if not key:
        return None
    best: tuple[float, str, str] | None = None
    for kind in CORE_FILES:
        target = _key(kind)
        for letters in (len(target) + 1, len(target), len(target) - 1):  # on a tie, the longer head
            head, tail = key[:letters], key[letters:]
            score = _similarity(head, target)
            if score < _SIMILAR:
                continue
            if not tail:
                guess = file_name(kind)
            elif kind in MERGEABLE:
                guess = f"{kind}_{_rest(stem, letters)}.json"
            elif _VERSION.fullmatch(tail):
                guess = file_name(kind)
            else:
                continue
            if best is None or score > best[0]:
                best = (score, kind, guess)
    return None if best is None else (best[1], best[2])
