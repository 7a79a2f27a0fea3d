"""Run aind-data-schema's `+` without re-validating what it builds from validated parts.

`Instrument.__add__`, `Acquisition.__add__` and `DataStream.__add__` end by calling the model's
constructor, which re-runs every validator over the merged whole: at 100x that is 1.5 s, a quarter
of a run, and it can find nothing the per-part validation and the job's own merge preconditions did
not (coordinates, units and connections of each part were checked; modalities, devices and
connections are unions of checked parts; merge.py reports cross-part duplicate names itself). While
folding, the module-level names those methods call are swapped for stand-ins that `model_construct`
instead; everything else the library does in `+` (its rules, its checks, its logs) runs unchanged.

tests/test_merge.py pins that the result equals the library's fully validated `+` on every fixture.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# module -> the classes whose constructor its `__add__` methods call. Only models whose
# after-validators merely check: QualityControl's compute `status`, so it is validated as usual,
# and Acquisition's `extract_timezone` is replaced by merge.py restoring the earliest part's zone.
CONSTRUCTED = {
    "aind_data_schema.core.instrument": ("Instrument",),
    "aind_data_schema.core.acquisition": ("Acquisition", "DataStream"),
}


class _StandIn(type):
    """A class-like object: calling it constructs without validation, isinstance and attributes
    behave as the original class's (the library calls `DataStream.overlapping`, `isinstance(s, DataStream)`)."""

    _original: Any

    def __call__(cls, **fields: Any) -> Any:
        return cls._original.model_construct(**fields)

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, cls._original)

    def __getattr__(cls, name: str) -> Any:
        return getattr(cls._original, name)


def _stand_in(original: Any) -> Any:
    return _StandIn(original.__name__, (), {"_original": original})


@contextmanager
def construct_merges() -> Iterator[None]:
    """Within this block, the library's `+` results are constructed, not re-validated."""
    swapped: list[tuple[Any, str, Any]] = []
    try:
        for module_name, names in CONSTRUCTED.items():
            module = importlib.import_module(module_name)
            for name in names:
                original = getattr(module, name)
                swapped.append((module, name, original))
                setattr(module, name, _stand_in(original))
        yield
    finally:
        for module, name, original in reversed(swapped):
            setattr(module, name, original)
