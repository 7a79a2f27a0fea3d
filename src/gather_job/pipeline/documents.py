"""What the stages hand each other: a Document per input, and the validated parts of a merge."""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

from gather_job.findings import Findings
from gather_job.pipeline.component_names import component_names
from gather_job.pipeline.plan import Plan
from gather_job.settings.model import JobSettings

Part = tuple[str, Any]  # (label, validated model): one file of a merge, named as findings name it

_NAMES: dict[int, tuple[weakref.ref[Any], list[str]]] = {}


def device_names(instrument: Any) -> list[str]:
    """`instrument.get_component_names()` without the instrument_id it appends, walked once per model.

    The walk is the library's (every nested `name`; owned in `component_names.py`); the merge's and
    the device checks' questions about one part then cost one walk, and the merged instrument's names
    are its parts' names.
    The entry goes when the model does, so a process checking thousands of assets stays flat.
    """
    key = id(instrument)
    hit = _NAMES.get(key)
    if hit is not None and hit[0]() is instrument:
        return hit[1]
    names = component_names(instrument)
    _NAMES[key] = (weakref.ref(instrument, lambda _ref: _NAMES.pop(key, None)), names)
    return names


@dataclass
class Document:
    """One input (a file or a service answer) and what became of it.

    `raw` and `data` are kept only while the document is invalid: an invalid file is passed on byte
    for byte when raise_if_invalid is false; a valid one is written from its model.
    """

    kind: str
    label: str
    raw: bytes | None = None
    data: Any = None
    model: Any = None
    origin: dict[str, Any] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return self.model is not None


@dataclass
class Gathered:
    """Everything one gather learned, handed to the cross-checks and to the writing.

    `documents` are the core files to write, by kind; `parts` the files each merged kind came from;
    `labels` how findings name each kind's file; `unchecked` the kinds `check` could not get.
    """

    settings: JobSettings
    findings: Findings
    plan: Plan
    documents: dict[str, Document] = field(default_factory=dict)
    parts: dict[str, list[Document]] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    service_calls: list[str] = field(default_factory=list)
    folder_label: str = ""
    unchecked: set[str] = field(default_factory=set)
    open_checks: list[str] = field(default_factory=list)  # whole-asset checks `check` could not run here
    policy: list[dict[str, Any]] = field(default_factory=list)  # what each findings-policy rule changed
    input_locations: frozenset[str] = frozenset()  # where each input file is, so no output overwrites one
    inputs_read: dict[str, tuple[str, int]] = field(default_factory=dict)  # name -> (sha256, size) as read
