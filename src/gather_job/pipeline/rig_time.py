"""Naive times in an asset are the rig's wall-clock time, not the validating machine's.

aind-data-schema's `AwareDatetimeWithDefault` turns a datetime without a UTC offset into an aware one
with `.astimezone()`, i.e. in the zone of whichever machine validates. The same asset folder then
gives different bytes (and a data_description name hours apart) under `TZ=UTC` and
`TZ=America/Los_Angeles`, which breaks "a rerun on the same inputs gives the same bytes"
(docs/design.md §1). So before validation the gather finds the rig's zone (`rig_zone`) and attaches
it to every naive datetime string (`attach`); with no zone known it can only say where the naive
times are (`naive_paths`). Everything here is pure: dicts in, new dicts out, nothing read or mutated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from gather_job.findings import Findings

# What pydantic (speedate) accepts as a datetime, minus the offset. A date-only string is accepted as
# midnight too, but a date alone says no wall-clock time, so it is deliberately left out.
_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt _](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?"
)
_DATE_ONLY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_LEGACY_OFFSET = re.compile(r"([+-]?)(\d{2}):(\d{2})")  # what Acquisition.acquisition_start_tz still accepts


@dataclass(frozen=True)
class Zone:
    """The rig's zone and, in words, where it was found (for findings and the report)."""

    tz: tzinfo
    source: str


_NONE: frozenset[str] = frozenset()


def _fixed(offset: timedelta) -> timezone:
    return UTC if not offset else timezone(offset)


def _zone_of(value: Any) -> tzinfo | None:
    """An `acquisition_start_tz` as a tzinfo, or None when it is not one (the schema says why)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return _fixed(timedelta(hours=value)) if -24 < value < 24 else None
    if not isinstance(value, str):
        return None
    legacy = _LEGACY_OFFSET.fullmatch(value)
    if legacy:
        sign = -1 if legacy.group(1) == "-" else 1
        minutes = sign * (int(legacy.group(2)) * 60 + int(legacy.group(3)))
        return _fixed(timedelta(minutes=minutes)) if abs(minutes) < 24 * 60 else None
    try:
        return ZoneInfo(value)
    except (KeyError, ValueError, OSError, TypeError):  # unknown, malformed or path-like name
        return None


def _parse(text: Any) -> tuple[datetime, timezone | None, str] | None:
    """(wall-clock time, written offset or None, isoformat timespec keeping its precision), or None."""
    found = _DATETIME.fullmatch(text) if isinstance(text, str) else None
    if not found:
        return None
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = found.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    digits = len(fraction or "")
    spec = "minutes" if not second else "milliseconds" if 0 < digits <= 3 else "microseconds" if digits else "seconds"
    try:  # out-of-range parts (month 13, offset 25:00) are left for the schema to report
        wall = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro)
        if not (zulu or sign):
            return wall, None, spec
        minutes = 0 if zulu else (-1 if sign == "-" else 1) * (int(off_h) * 60 + int(off_m))
        return wall, _fixed(timedelta(minutes=minutes)), spec
    except ValueError:
        return None


def _naive(text: Any) -> tuple[datetime, str] | None:
    """(wall-clock time, timespec) of a naive datetime string, or None.

    A date alone in a datetime field is midnight at the rig: pydantic would otherwise read it as
    midnight in the zone of the machine that validates it.
    """
    parsed = _parse(text)
    if parsed is not None:
        return (parsed[0], parsed[2]) if parsed[1] is None else None
    day = _DATE_ONLY.fullmatch(text) if isinstance(text, str) else None
    if day is None:
        return None
    try:
        return datetime(int(day.group(1)), int(day.group(2)), int(day.group(3))), "seconds"
    except ValueError:
        return None


def _offset_in(text: Any) -> timezone | None:
    """The fixed offset written in a datetime string, if it has one."""
    parsed = _parse(text)
    return parsed[1] if parsed else None


def _start(part: Mapping[str, Any], tz: tzinfo) -> datetime | None:
    """The part's start as an aware time (a naive one read in `tz`), to find the earliest part."""
    parsed = _parse(part.get("acquisition_start_time"))
    return parsed[0].replace(tzinfo=parsed[1] or tz) if parsed else None


def _pick(candidates: list[tuple[int, tzinfo, str]], parts: Sequence[Mapping[str, Any]], what: str) -> Zone:
    """The earliest-starting part's zone; parts without a readable start sort last, in file order."""
    far = datetime.max.replace(tzinfo=UTC)

    def order(candidate: tuple[int, tzinfo, str]) -> tuple[datetime, int]:
        index, tz, _ = candidate
        return (_start(parts[index], tz) or far, index)

    index, tz, shown = min(candidates, key=order)
    source = f"{what} {shown} of acquisition part {index + 1}"
    zones = sorted({str(c[1]) for c in candidates})  # ZoneInfo prints its key, a fixed offset "UTC-07:00"
    if len(zones) > 1:
        source += f" (parts disagree: {', '.join(zones)}; the earliest-starting part's is used)"
    return Zone(tz, source)


def rig_zone(acquisitions: Sequence[Mapping[str, Any]], settings_start: datetime | None) -> Zone | None:
    """The zone the rig's clock was in, or None if nothing says.

    First an `acquisition_start_tz` (IANA name, whole hours, or a legacy "-07:00"), then the offset
    written in an `acquisition_start_time`, then an aware start time from the settings. Parts are
    numbered from 1 in the order given; invalid zone names are skipped (validation reports them).
    """
    named: list[tuple[int, tzinfo, str]] = []
    written: list[tuple[int, tzinfo, str]] = []
    for index, part in enumerate(acquisitions):
        raw = part.get("acquisition_start_tz")
        zone = _zone_of(raw)
        if zone is not None:
            named.append((index, zone, repr(raw)))
        offset = _offset_in(part.get("acquisition_start_time"))
        if offset is not None:
            written.append((index, offset, f"({offset})"))
    if named:
        return _pick(named, acquisitions, "acquisition_start_tz")
    if written:
        return _pick(written, acquisitions, "the UTC offset in acquisition_start_time")
    if settings_start is not None and (offset_td := settings_start.utcoffset()) is not None:
        tz = _fixed(offset_td)
        return Zone(tz, f"the UTC offset ({tz}) of the settings' acquisition start time")
    return None


def own_zones(parts: Sequence[tuple[str, Mapping[str, Any]]], findings: Findings) -> dict[str, Zone]:
    """The zone each acquisition part names itself (its `acquisition_start_tz`, else the offset written
    in its start time), by label: a part's naive times are read in the zone it declares.

    Parts naming zones that differ at their starts are a warning: the merged file has one
    `acquisition_start_tz` (the earliest part's), and one of them is likely wrong.
    """
    zones: dict[str, Zone] = {}
    said: dict[str, str] = {}  # label -> what in it names the zone
    for label, part in parts:
        raw = part.get("acquisition_start_tz")
        tz = _zone_of(raw)
        if tz is not None:
            said[label] = f"acquisition_start_tz {raw!r}"
        elif (offset := _offset_in(part.get("acquisition_start_time"))) is not None:
            tz, said[label] = offset, f"the UTC offset ({offset}) in its acquisition_start_time"
        if tz is not None:
            zones[label] = Zone(tz, f"{said[label]} of {label}")
    starts = {label: _start(part, zones[label].tz) for label, part in parts if label in zones}
    offsets = {label: zones[label].tz.utcoffset(start.replace(tzinfo=None)) for label, start in starts.items() if start}
    if len(set(offsets.values())) > 1:
        shown = "; ".join(f"{label}: {said[label]}" for label in offsets)
        findings.warning(
            "gather.time.parts_disagree",
            f"The acquisition parts were recorded in different time zones ({shown}). Each part's times without "
            "a UTC offset are read in its own zone; the merged acquisition.json keeps the earliest part's.",
            files=tuple(offsets),
            location="acquisition_start_tz",
            hint="If the parts were recorded at one place, give every part the same acquisition_start_tz "
            "(the rig's zone, e.g. 'America/Los_Angeles').",
        )
    return zones


def _walk(data: Any, keys: frozenset[str], zone: tzinfo | None) -> tuple[Any, list[str]]:
    """Copy `data`, attaching `zone` (if any) to naive datetimes under `keys`; their paths in order.

    A string is eligible when its nearest enclosing key is in `keys` (so a list of datetimes counts),
    unless an enclosing key is opaque (`DatetimeKeys`): a free-form value is copied as written.
    Iterative and pre-order, so depth is bounded by memory, not the recursion limit, and the paths
    come out in document order.
    """
    opaque: frozenset[str] = getattr(keys, "opaque", frozenset())
    root: list[Any] = [None]
    paths: list[str] = []
    # value, the new container it goes into, its slot, its path, whether under a key, the keys counting below
    stack: list[tuple[Any, Any, Any, str, bool, frozenset[str]]] = [(data, root, 0, "", False, keys)]
    while stack:
        value, parent, slot, path, eligible, scope = stack.pop()
        if isinstance(value, Mapping):
            copy: dict[Any, Any] = dict.fromkeys(value)
            parent[slot] = copy
            prefix = f"{path}." if path else ""
            for key, child in reversed(list(value.items())):
                stack.append((child, copy, key, f"{prefix}{key}", key in scope, _NONE if key in opaque else scope))
        elif isinstance(value, (list, tuple)):
            items: list[Any] = [None] * len(value)
            parent[slot] = items
            stack.extend(
                (child, items, i, f"{path}[{i}]", eligible, scope) for i, child in reversed(list(enumerate(value)))
            )
        else:
            naive = _naive(value) if eligible and isinstance(value, str) else None
            if naive is not None:
                paths.append(path)
                if zone is not None:
                    value = naive[0].replace(tzinfo=zone).isoformat(timespec=naive[1])
            parent[slot] = value
    return root[0], paths


def attach(data: Any, zone_tz: tzinfo, keys: frozenset[str]) -> tuple[Any, list[str]]:
    """A new copy of `data` whose naive datetimes under `keys` carry the offset of `zone_tz`.

    The offset is the one `zone_tz` has at that wall-clock time, so a ZoneInfo follows DST value by
    value. A time that does not exist (spring forward) or exists twice (fall back) takes fold=0, the
    offset in force before the change. Precision is kept: no microseconds are added. Returns the
    copy and the JSON paths changed; aware strings, non-strings and other keys are left alone.
    """
    return _walk(data, keys, zone_tz)


def naive_paths(data: Any, keys: frozenset[str]) -> list[str]:
    """Where `data` holds naive datetimes under `keys`: what a finding names when no zone is known."""
    return _walk(data, keys, None)[1]


@cache
def _screen(keys: frozenset[str]) -> re.Pattern[bytes]:
    """A naive date or datetime string right after one of `keys` (or inside a list there), in raw JSON."""
    names = b"|".join(re.escape(key.encode()) for key in sorted(keys))
    naive = rb'"\d{4}-\d{2}-\d{2}(?:[Tt _]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?"'
    return re.compile(rb'"(?:' + names + rb')"\s*:\s*(?:\[[^\]]*?)?' + naive)


def may_hold_naive(raw: bytes, keys: frozenset[str]) -> bool:
    """False only when `raw` surely holds no naive datetime under `keys`: the walk can be skipped.

    A regular expression over the bytes costs a few milliseconds where walking a 10 MB document
    costs a second; escaped or unusually spelled JSON only makes this say True.
    """
    if b"\\u" in raw:
        return True  # keys or values written with \u escapes: let the walk decide
    return _screen(keys).search(raw) is not None


def place(data: Any, zone: Zone | None, keys: frozenset[str], label: str, findings: Findings) -> Any:
    """`data` with its naive times under `keys` read in the rig's `zone` (as UTC, with a warning, if none)."""
    if data is None:
        return None
    if zone is not None:
        attached, paths = attach(data, zone.tz, keys)
        if paths:
            findings.info(
                "gather.time.rig_wall_clock",
                f"{label} has {len(paths)} time(s) without a UTC offset (first: {paths[0]}); they are read "
                f"as the rig's wall clock in {zone.source}.",
                files=(label,),
                location=paths[0],
            )
        return attached
    paths = naive_paths(data, keys)
    if not paths:
        return data
    findings.warning(
        "gather.time.naive_unknown_zone",
        f"{label} has {len(paths)} time(s) without a UTC offset (first: {paths[0]}) and nothing says "
        "where the rig is; they are read as UTC.",
        files=(label,),
        location=paths[0],
        hint="Give the times their offset (e.g. 2024-03-05T14:20:00-07:00), set acquisition_start_tz, "
        "or give acquisition_start_time in the settings with its offset.",
    )
    return attach(data, UTC, keys)[0]


# UTC offsets in use run from -12 (Baker Island) to +14 (Line Islands) hours
_OFFSETS_IN_USE = range(-12, 15)
_ZONE_HINT = (
    "Set acquisition_start_tz to the rig's UTC offset in whole hours (-7 for PDT) or an IANA name such as "
    "'America/Los_Angeles', or remove it: it is then taken from acquisition_start_time."
)


def check_start_tz(acquisition: Any, label: str, findings: Findings) -> None:
    """An `acquisition_start_tz` offset the schema accepts but no clock shows.

    The schema takes any integer (and "+25:00", floored to 25), but its own
    `Acquisition.acquisition_start_time_local` raises for 24 hours or more, so every reader that shows
    the local time fails on the file: an error. Inside a day but outside -12..+14 it is a typo: a warning.
    """
    value = getattr(acquisition, "acquisition_start_tz", None)
    if not isinstance(value, int) or isinstance(value, bool) or value in _OFFSETS_IN_USE:
        return
    shown = value if value.bit_length() <= 64 else "a huge number"
    if -24 < value < 24:
        findings.warning(
            "gather.time.zone_offset",
            f"{label}: acquisition_start_tz {shown} is a UTC offset of {value} hours, which no place uses "
            "(they run from -12 to +14).",
            files=(label,),
            location="acquisition_start_tz",
            value=value,
            hint=_ZONE_HINT,
        )
        return
    findings.error(
        "gather.time.zone_offset",
        f"{label}: acquisition_start_tz {shown} is not a UTC offset: aind-data-schema accepts it, but its own "
        "acquisition_start_time_local fails on it (an offset must be under 24 hours), and so does every "
        "reader that shows the acquisition's local time.",
        files=(label,),
        location="acquisition_start_tz",
        value=value,
        hint=_ZONE_HINT,
    )
