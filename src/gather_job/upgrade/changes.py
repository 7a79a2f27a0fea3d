"""What aind-metadata-upgrader filled in or assumed, found in its output, so `gather-job upgrade` can say it.

The upgrader fills gaps instead of failing (a placeholder Device for a name no component has, 'unknown'
for a missing investigator or manufacturer, US Pacific time for a time without a UTC offset) and marks
only some of it. A person must check each guess before upload, so every one is listed, found four ways:

- its notes: text it writes into `notes` and other fields, starting "(v1v2 upgrade";
- the placeholder 'unknown' it puts where 1.x had no value;
- times that had no UTC offset in the 1.x file and have one now (the zone it assumed);
- the differences its record-level repairs made (`upgrader.Result.before_repairs`), e.g. a
  creation_time moved after the acquisition, an instrument_id made to agree;
- an instrument's modification_date that 1.x lacked (the upgrader puts the day it runs).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

MARK = "(v1v2 upgrade"
PLACEHOLDER = "unknown"
_NAIVE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")
_SHOWN = 12  # places listed per kind of change and file; the rest are counted
_VALUE_CHARS = 90


def walk(data: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(JSON path, value, the object holding it) for every scalar in a document."""
    if isinstance(data, dict):
        for key, value in data.items():
            inner = f"{path}.{key}" if path else str(key)
            if isinstance(value, (dict, list)):
                yield from walk(value, inner)
            else:
                yield inner, value, data
    elif isinstance(data, list):
        for i, value in enumerate(data):
            inner = f"{path}[{i}]"
            if isinstance(value, (dict, list)):
                yield from walk(value, inner)
            else:
                yield inner, value, data


def shown(value: Any) -> str:
    """A value short enough for one line: an object by its type and name, long text cut."""
    if isinstance(value, dict):
        kind = value.get("object_type") or "object"
        return f"{kind} {value['name']!r}" if "name" in value else f"an {kind}"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if value is None:
        return "nothing"
    text = repr(value)
    return text if len(text) <= _VALUE_CHARS else text[: _VALUE_CHARS - 4] + "...'"


def _listed(places: list[str]) -> str:
    more = len(places) - _SHOWN
    return ", ".join(places[:_SHOWN]) + (f" and {more} more" if more > 0 else "")


def notes(document: dict[str, Any]) -> list[str]:
    """Each text the upgrader marked as its own, with where it is and what it is about."""
    found = []
    for path, value, holder in walk(document):
        if isinstance(value, str) and MARK in value:
            about = f" ({holder.get('object_type') or 'object'} {holder['name']!r})" if "name" in holder else ""
            found.append(f"{path}{about}: {value.strip()}")
    return found


def placeholders(document: dict[str, Any]) -> list[str]:
    """Where the document holds 'unknown': the upgrader's placeholder (or a 1.x value that said so)."""
    places = [path for path, value, _ in walk(document) if isinstance(value, str) and value.lower() == PLACEHOLDER]
    if not places:
        return []
    return [f"'{PLACEHOLDER}' (a placeholder where 1.x had no value) at {_listed(places)}"]


def naive_times(sources: dict[str, dict[str, Any]], document: dict[str, Any]) -> list[str]:
    """Times without a UTC offset in the 1.x files, and the offset the upgrader gave them."""
    upgraded = [value for _, value, _ in walk(document) if isinstance(value, str)]
    lines = []
    for name, source in sources.items():
        naive = [(path, value) for path, value, _ in walk(source) if isinstance(value, str) and _NAIVE.match(value)]
        if not naive:
            continue
        path, value = naive[0]
        wall = value.replace(" ", "T")
        given = next((u for u in upgraded if u.startswith(wall) and len(u) > len(wall) and u != wall), None)
        became = f"; {path} {value!r} became {given!r}" if given else ""
        lines.append(
            f"{len(naive)} time(s) in {name} had no UTC offset (first: {path} {value!r}); the upgrader reads "
            f"such times as US Pacific (America/Los_Angeles){became}. If the rig was elsewhere, fix the offsets."
        )
    return lines


def invented_dates(sources: dict[str, dict[str, Any]], document: dict[str, Any]) -> list[str]:
    """An instrument's modification_date that 1.x did not have: the upgrader uses the day it runs."""
    value = document.get("modification_date")
    if value is None or any("modification_date" in source for source in sources.values()):
        return []
    return [
        f"modification_date {value!r} is the day of the upgrade ({', '.join(sources)} had none): set the day the "
        "rig last changed"
    ]


def differences(before: Any, after: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(path, before, after) where two JSON documents differ; an added or removed list item is one difference."""
    if isinstance(before, dict) and isinstance(after, dict):
        for key in list(after) + [k for k in before if k not in after]:
            inner = f"{path}.{key}" if path else str(key)
            yield from differences(before.get(key), after.get(key), inner)
    elif isinstance(before, list) and isinstance(after, list):
        for i in range(max(len(before), len(after))):
            old = before[i] if i < len(before) else None
            new = after[i] if i < len(after) else None
            yield from differences(old, new, f"{path}[{i}]")
    elif before != after:
        yield path, before, after


def repairs(before: dict[str, Any] | None, after: dict[str, Any]) -> list[str]:
    """What the record-level repairs changed in one file, one line per place."""
    if before is None:
        return []
    changes = [f"{path}: {shown(old)} -> {shown(new)}" for path, old, new in differences(before, after)]
    if len(changes) > _SHOWN:
        changes = [*changes[:_SHOWN], f"... and {len(changes) - _SHOWN} more changes"]
    return changes


def review(
    sources: dict[str, dict[str, Any]], document: dict[str, Any], before_repairs: dict[str, Any] | None
) -> list[str]:
    """Every guess or change in one upgraded file, for the person who must check it before upload."""
    lines = [f"repaired {line}" for line in repairs(before_repairs, document)]
    marked = notes(document)
    lines += [f"noted {line}" for line in marked[:_SHOWN]]
    if len(marked) > _SHOWN:
        lines.append(f"... and {len(marked) - _SHOWN} more notes by the upgrader")
    lines += placeholders(document)
    lines += naive_times(sources, document)
    lines += invented_dates(sources, document)
    return lines
