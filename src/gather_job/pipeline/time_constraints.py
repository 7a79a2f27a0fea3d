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
                        _validate_time_constraint(value, rule, start, end, name)
        for name, value in values.items():
            if name == "object_type" or type(value) in _LEAVES or callable(value):
                continue
            walk(value)

    walk(acquisition)
    for part in (metadata.processing, metadata.subject):
        if part:
            walk(part)


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
