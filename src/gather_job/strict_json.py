"""Strict JSON, decoded one way for settings, job_types and metadata files alike.

UTF-8 (a BOM is allowed), no duplicate keys, no NaN/Infinity, no number too large for a float and no
integer longer than Python converts (4,300 digits: json.loads raises a bare ValueError, a traceback),
not nested deeper than Python can walk, and no lone surrogate: JSON lets `\\ud800` stand alone, Python
decodes it into a str that no UTF-8 writer accepts, so it would pass validation and fail only as the
outputs are written (a traceback, exit 1); it is an "encoding" problem located at the escape.
Problems come back as data: settings turn the first one into a UsageError, metadata files turn each
into a finding (a file with a duplicate key and a NaN gets both). A syntax error carries the
offending line with a caret under the column.
"""

from __future__ import annotations

import json
import math
import re
import sys
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["empty", "encoding", "syntax", "too_deep", "duplicate_key", "non_finite", "too_long", "not_object"]
_EXCERPT = 72  # characters of the offending line shown around the column
_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|.)", re.DOTALL)  # one escape; `\\\\` is consumed whole
# What a lone surrogate needs in the text: a \uD800-\uDFFF escape (or, in text handed in as a str, the
# character itself). Most files have neither, and then the decoded tree is not walked at all.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE_ESCAPE_BYTES = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE_CHAR = re.compile("[\ud800-\udfff]")
_LONG_INTEGER = re.compile(r"-?[0-9]{%d,}")  # searched for only when json.loads refused one
_SURROGATE_HINT = (
    "Replace the escape with the character it was meant to be (one outside the Basic Multilingual Plane, "
    "such as an emoji, is written as a pair: \\ud83d\\ude00), or remove it."
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a document; `text` completes a sentence that starts with its name."""

    kind: Kind
    text: str
    location: str | None = None
    values: tuple[str, ...] = ()
    excerpt: str | None = None
    hint: str | None = None  # what to do, when the kind alone does not say it


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
        said = exc.msg.removesuffix(" at")  # "Unterminated string starting at" would say "at at line ..."
        return None, [Problem("syntax", f"is not valid JSON: {said} at {where}", where, excerpt=shown)]
    except RecursionError:
        return None, [Problem("too_deep", "is nested too deeply")]
    except ValueError:  # an integer past sys.get_int_max_str_digits(); the only other ValueError json raises
        return None, [_long_integer(text)]
    problems: list[Problem] = []
    surrogate = (
        _lone_surrogate(text, value) if _may_hold_surrogate(text, str_given=not isinstance(raw, bytes)) else None
    )
    if surrogate is not None:
        problems.append(surrogate)
    if duplicates:
        problems.append(Problem("duplicate_key", "repeats keys", values=tuple(duplicates)))
    if constants:
        problems.append(Problem("non_finite", "contains numbers JSON does not allow", values=tuple(constants)))
    if not problems and want_object and not isinstance(value, dict):
        problems.append(Problem("not_object", type(value).__name__))
    return (None if problems else value), problems


def _long_integer(text: str) -> Problem:
    """The integer too long to convert, located (the search runs only after json.loads refused one)."""
    limit = sys.get_int_max_str_digits() or 4300
    found = re.compile(_LONG_INTEGER.pattern % (limit + 1)).search(text)
    offset = found.start() if found else 0
    digits = len(found.group(0).lstrip("-")) if found else limit + 1
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    shown = f"{found.group(0)[:12]}... ({digits} digits)" if found else f"more than {limit} digits"
    return Problem(
        "too_long",
        f"holds an integer of {digits} digits at line {line} column {column}, longer than the {limit} digits "
        "a JSON reader in Python accepts",
        f"line {line} column {column}",
        values=(shown,),
        excerpt=excerpt(text, line, column),
        hint="Correct the value (no metadata field holds a number that long), or write it as a string.",
    )


def lone_surrogate(raw: bytes, value: Any) -> Problem | None:
    """The first lone surrogate in `value`, decoded from the UTF-8 JSON `raw` by another reader (a
    service's answer); a search of the bytes first, so an answer without a \\uD8xx escape costs ~nothing."""
    if _SURROGATE_ESCAPE_BYTES.search(raw) is None:
        return None
    return _lone_surrogate(raw.decode("utf-8", "replace"), value)


def _may_hold_surrogate(text: str, *, str_given: bool) -> bool:
    """False when no decoded key or string can hold a surrogate: a search of the text in C, instead of a
    walk of the whole tree in Python (a third of the decode time of a 10 MB file). Text decoded from
    UTF-8 bytes holds no surrogate character; only its escapes can make one."""
    if _SURROGATE_ESCAPE.search(text) is not None:
        return True
    return str_given and _SURROGATE_CHAR.search(text) is not None


def _path_to_surrogate(value: Any, path: str = "") -> str | None:
    """The JSON path ("data_streams[0].notes") of the first key or string holding a lone surrogate."""
    if isinstance(value, str):
        return path if any(0xD800 <= ord(c) <= 0xDFFF for c in value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{_visible(key)}" if path else _visible(key)
            if any(0xD800 <= ord(c) <= 0xDFFF for c in key):
                return where
            if (found := _path_to_surrogate(item, where)) is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            if (found := _path_to_surrogate(item, f"{path}[{index}]")) is not None:
                return found
    return None


def _visible(text: str, replacement: str | None = None) -> str:
    """`text` with each surrogate escaped (or replaced), so a message about it is valid UTF-8."""
    return "".join(
        (replacement or c.encode("unicode_escape").decode("ascii")) if 0xD800 <= ord(c) <= 0xDFFF else c for c in text
    )


def _lone_surrogate(text: str, value: Any) -> Problem | None:
    """A lone surrogate in the decoded value, located at its escape (or, in text handed in as a str, at the
    character itself: undecodable argv or environment bytes arrive as \\udc80-\\udcff)."""
    path = _path_to_surrogate(value)
    if path is None:
        return None
    offset, shown = _first_lone_escape(text)
    if offset < 0:
        offset = next(i for i, c in enumerate(text) if 0xD800 <= ord(c) <= 0xDFFF)
        shown = text[offset].encode("unicode_escape").decode("ascii")
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    inside = f" (in {path})" if path else ""
    return Problem(
        "encoding",
        f"holds {shown} at line {line} column {column}{inside}, a lone UTF-16 surrogate: it stands for no "
        "character, so the text cannot be written as UTF-8 (replace the escape with the character meant, or remove it)",
        path or f"line {line} column {column}",
        values=(shown,),
        excerpt=_visible(excerpt(text, line, column), "?"),  # "?" keeps the caret under its column
        hint=_SURROGATE_HINT,
    )


def _first_lone_escape(text: str) -> tuple[int, str]:
    """(offset, escape) of the first \\uD800-\\uDFFF escape that is not half of a high-low pair; (-1, "")."""
    pending: tuple[int, int, str] | None = None  # a high surrogate's (start, end, escape), awaiting its low half
    for match in _ESCAPE.finditer(text):
        code = int(match.group(1), 16) if match.group(1) else -1
        if pending is not None:
            if 0xDC00 <= code <= 0xDFFF and match.start() == pending[1]:
                pending = None
                continue
            return pending[0], pending[2]
        if 0xD800 <= code <= 0xDBFF:
            pending = (match.start(), match.end(), match.group(0))
        elif 0xDC00 <= code <= 0xDFFF:
            return match.start(), match.group(0)
    return (pending[0], pending[2]) if pending is not None else (-1, "")
