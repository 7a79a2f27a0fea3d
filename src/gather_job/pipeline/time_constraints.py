"""Metadata's `validate_time_constraints`, owned: the same verdict and message, a fraction of the time.

The library's check walks every object of the acquisition, processing and subject, asking each
for its class annotations and testing every attribute with `hasattr`/`callable` (pydantic's slow
`__getattr__` path): at 100x it is the largest single cost of the whole-asset check. This walk
visits the same objects in the same order and applies the same rule to the same fields, with what
a class declares looked up once per class and plain values (text, numbers, times) passed over
without a call. The library's own helper compares each value, so the limits, the date-to-datetime
conversion and the error message stay the library's. tests/test_time_constraints.py pins the
verdict and message against the library's function on every fixture and on each kind of violation.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any

_LEAVES = frozenset({str, int, float, bool, type(None), datetime, date, bytes})
_FIELDS: dict[type, dict[str, tuple[Any, ...]]] = {}  # class -> its TimeValidation fields and their rules


class Violation(ValueError):
    """The library's message, and where the value is: the core file's kind and the JSON path in it.

    The library's error names only the field; an asset has dozens of `stream_start_time`s. The walk
    keeps no path (it is the whole-asset check's largest cost at 100x): the path is found afterwards,
    by looking for the object that broke the rule, only when one did.
    """

    def __init__(self, message: str, kind: str, path: str, rule: str = "between") -> None:
        super().__init__(message)
        self.kind, self.path = kind, path
        self.rule = rule  # the library's TimeValidation: "between", "before" (the end) or "after" (the start)


class _Broken(Exception):
    def __init__(self, error: ValueError, holder: Any, name: str, rule: str) -> None:
        self.error, self.holder, self.name, self.rule = error, holder, name, rule


def check(metadata: Any) -> None:
    """Raise ValueError as `Metadata.validate_time_constraints` would, on a constructed Metadata (or
    anything with its core-file attributes, such as `asset_rules.Asset`)."""
    acquisition = metadata.acquisition
    if not acquisition:
        return
    start = getattr(acquisition, "acquisition_start_time", None)
    end = getattr(acquisition, "acquisition_end_time", None)
    if not (start and end):
        return  # the library walks, but compares nothing without both limits
    try:
        from aind_data_schema.utils.validators import TimeValidation, _validate_time_constraint
    except ImportError:  # a library version without these helpers: its own check, slower but the same
        from aind_data_schema.core.metadata import Metadata

        Metadata.__pydantic_decorators__.model_validators["validate_time_constraints"].func(metadata)
        return

    def walk(data: Any) -> None:
        kind = type(data)
        if kind in _LEAVES or not data:
            return
        if isinstance(data, list):
            for item in data:
                walk(item)
            return
        values = getattr(data, "__dict__", None)
        if values is None:
            return
        fields = _FIELDS.get(kind)
        if fields is None:
            fields = _FIELDS[kind] = _time_fields(data, TimeValidation)
        if fields:  # in the object's own field order, as the library raises the first it meets
            for name, value in values.items():
                if value and name in fields:
                    for rule in fields[name]:
                        try:
                            _validate_time_constraint(value, rule, start, end, name)
                        except ValueError as exc:
                            raise _Broken(exc, data, name, str(rule.value)) from None
        for name, value in values.items():
            if name == "object_type" or type(value) in _LEAVES or callable(value):
                continue
            walk(value)

    parts = (("acquisition", acquisition), ("processing", metadata.processing), ("subject", metadata.subject))
    for kind, part in parts:
        if not part:
            continue
        try:
            walk(part)
        except _Broken as broken:
            where = _path_to(part, broken.holder)
            path = f"{where}.{broken.name}" if where else broken.name
            raise Violation(str(broken.error), kind, path, broken.rule) from broken.error


def _path_to(root: Any, target: Any, path: str = "") -> str | None:
    """The JSON path from `root` to the object `target` ("" for root itself), None when it is not there.
    It steps where the walk steps (past leaves, callables and object_type), so it ends where the walk does."""
    if root is target:
        return path
    if isinstance(root, list):
        for index, item in enumerate(root):
            if (found := _path_to(item, target, f"{path}[{index}]")) is not None:
                return found
        return None
    values = getattr(root, "__dict__", None) if type(root) not in _LEAVES and root else None
    for name, value in (values or {}).items():
        if name == "object_type" or type(value) in _LEAVES or callable(value):
            continue
        if (found := _path_to(value, target, f"{path}.{name}" if path else name)) is not None:
            return found
    return None


def _time_fields(data: Any, time_validation: type[Enum]) -> dict[str, tuple[Any, ...]]:
    """The fields of `data`'s class whose annotation carries TimeValidation, as the library reads them."""
    annotations = getattr(data, "__annotations__", None)
    if not isinstance(annotations, dict):
        return {}
    found = {}
    for name, annotation in annotations.items():
        rules = tuple(m for m in getattr(annotation, "__metadata__", ()) if isinstance(m, time_validation))
        if rules:
            found[name] = rules
    return found


Reversed = tuple[str, str, Any, str, Any]  # (holder path, start field, start, end field, end)
_PAIRS: dict[type, tuple[tuple[str, str], ...]] = {}  # class -> its (start field, end field) pairs


def reversed_ranges(acquisition: Any) -> list[Reversed]:
    """Every start/end pair of the acquisition, its data streams, stimulus epochs and manipulations
    (`acquisition_start_time`/`acquisition_end_time`, `stream_start_time`/`stream_end_time`, ...) whose
    end is before its start: the time-constraint check then says only "must be between 09:00 and 08:00".
    One level down only: that is where the schema's start/end pairs are."""
    if acquisition is None:
        return []
    found = _reversed(acquisition, "")
    for name, value in getattr(acquisition, "__dict__", {}).items():
        if isinstance(value, list):
            for index, item in enumerate(value):
                found.extend(_reversed(item, f"{name}[{index}]"))
    return found


def reversed_holders(acquisition: Any) -> frozenset[str]:
    """The paths of the objects whose end is before their start ("" for the acquisition itself)."""
    return frozenset(holder for holder, *_ in reversed_ranges(acquisition))


def _reversed(data: Any, path: str) -> list[Reversed]:
    values = getattr(data, "__dict__", None) if type(data) not in _LEAVES else None
    if not values:
        return []
    pairs = _PAIRS.get(type(data))
    if pairs is None:
        names = [n for n in values if "start" in n]
        pairs = _PAIRS[type(data)] = tuple(
            (n, n.replace("start", "end")) for n in names if n.replace("start", "end") in values
        )
    found: list[Reversed] = []
    for start_name, end_name in pairs:
        start, end = values.get(start_name), values.get(end_name)
        if not isinstance(start, (datetime, date)) or type(start) is not type(end):
            continue
        try:
            if end < start:
                found.append((path, start_name, start, end_name, end))
        except TypeError:  # a naive and an aware time: not comparable, and not this check's concern
            continue
    return found
