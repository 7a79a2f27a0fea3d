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


def _shown(key: Any) -> str:
    """A status key as JSON shows it (an enum by its value)."""
    return str(getattr(key, "value", key))


def stable_status(quality_control: Any) -> Any:
    """`quality_control` with its computed `status` keys in a fixed order; the same model, changed in place.

    The library's after-validator builds `status` from `list(set(...))` of tag pairs, modalities and
    stages, so its key order (and the written quality_control.json) changes with PYTHONHASHSEED from
    one process to the next. The library's grouping is kept (tag pairs, then modalities, then stages),
    each group sorted; the values are the library's. Set as a plain attribute: no validator runs again.
    """
    status = getattr(quality_control, "status", None)
    if not isinstance(status, dict) or len(status) < 2:
        return quality_control
    tags, stages = ({_shown(k) for k in getattr(quality_control, name, [])} for name in ("tag_pairs", "stages"))
    modalities = {_shown(getattr(m, "abbreviation", m)) for m in getattr(quality_control, "modalities", [])}

    def rank(key: Any) -> tuple[int, str]:
        shown = _shown(key)
        return (0 if shown in tags else 1 if shown in modalities else 2 if shown in stages else 3), shown

    quality_control.status = {key: status[key] for key in sorted(status, key=rank)}
    return quality_control


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

    def __setattr__(self, name: str, value: Any) -> None:
        """Every validated or merged quality control passes here on its way to the output, whichever
        stage made it (a file, a merge), so its `status` is ordered once for all (`stable_status`)."""
        if name == "model" and value is not None and self.kind == "quality_control":
            value = stable_status(value)
        super().__setattr__(name, value)


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
    reader: Any = None  # the folder the inputs were read from, when not the one opened (`kept_inputs.Restored`)
    in_place: bool = False  # `run` where it reads: metadata_dir unset or = output_dir (`writes_where_it_reads`)
    final: bool = False  # `check` of a gathered or uploaded asset (`earlier_run.is_finished`): its files are final


def parts_say(parts: list[Document]) -> tuple[str | None, Any]:
    """The subject_id the valid acquisition parts agree on and their earliest start (None where they do
    not say): what a merge that failed still tells about who and when, so data_description is not
    blamed on the settings as well."""
    models = [d.model for d in parts if d.model is not None]
    ids = {m.subject_id for m in models}
    starts = [m.acquisition_start_time for m in models if m.acquisition_start_time is not None]
    return (ids.pop() if len(ids) == 1 else None), (min(starts) if starts else None)
