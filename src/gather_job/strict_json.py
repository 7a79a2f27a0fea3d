"""Strict JSON, decoded one way for settings, job_types and metadata files alike.

UTF-8 (a BOM is allowed), no duplicate keys, no NaN/Infinity and no number too large for a float,
not nested deeper than Python can walk. Problems come back as data: settings turn the first one
into a UsageError, metadata files turn each into a finding (a file with a duplicate key and a NaN
gets both). A syntax error carries the offending line with a caret under the column.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["empty", "encoding", "syntax", "too_deep", "duplicate_key", "non_finite", "not_object"]
_EXCERPT = 72  # characters of the offending line shown around the column


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a document; `text` completes a sentence that starts with its name."""

    kind: Kind
    text: str
    location: str | None = None
    values: tuple[str, ...] = ()
    excerpt: str | None = None


def excerpt(text: str, line: int, column: int) -> str:
    """The line at (line, column), cut to fit around the column, with a caret under it."""
    lines = text.splitlines() or [""]
    content = lines[min(line, len(lines)) - 1].expandtabs(1)
    start = max(0, min(column - 1 - _EXCERPT // 2, len(content) - _EXCERPT))
    shown = content[start : start + _EXCERPT]
    prefix = "..." if start else ""
    suffix = "..." if start + _EXCERPT < len(content) else ""
    return f"{prefix}{shown}{suffix}\n{' ' * (len(prefix) + column - 1 - start)}^"


def decode(raw: bytes | str, *, want_object: bool = True) -> tuple[Any, list[Problem]]:
    """(value, problems); the value is None whenever there is a problem."""
    if isinstance(raw, bytes):
        if not raw.strip():
            return None, [Problem("empty", "is empty")]
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return None, [
                Problem("encoding", f"is not UTF-8 text ({exc.reason} at byte {exc.start})", f"byte {exc.start}")
            ]
    else:
        text = raw.removeprefix("\ufeff")
        if not text.strip():
            return None, [Problem("empty", "is empty")]
    duplicates: list[str] = []
    constants: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in items:
            if key in seen and key not in duplicates:
                duplicates.append(key)
            seen[key] = value
        return seen

    def constant(name: str) -> float:
        constants.append(name)
        return math.nan

    def number(token: str) -> float:
        value = float(token)
        if math.isinf(value):
            constants.append(f"{token[:20]} (too large)")
        return value

    try:
        value = json.loads(text, object_pairs_hook=pairs, parse_constant=constant, parse_float=number)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        shown = excerpt(text, exc.lineno, exc.colno)
        return None, [Problem("syntax", f"is not valid JSON: {exc.msg} at {where}", where, excerpt=shown)]
    except RecursionError:
        return None, [Problem("too_deep", "is nested too deeply")]
    problems: list[Problem] = []
    if duplicates:
        problems.append(Problem("duplicate_key", "repeats keys", values=tuple(duplicates)))
    if constants:
        problems.append(Problem("non_finite", "contains numbers JSON does not allow", values=tuple(constants)))
    if not problems and want_object and not isinstance(value, dict):
        problems.append(Problem("not_object", type(value).__name__))
    return (None if problems else value), problems
