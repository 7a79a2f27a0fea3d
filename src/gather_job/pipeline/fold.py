"""The instrument and acquisition merges, folded in one pass with aind-data-schema's own rules.

The library's `Instrument.__add__` and `Acquisition.__add__` end by calling the model's
constructor, which re-validates the whole union: at 100x a quarter of a run, finding nothing the
per-part validation and `merge.py`'s preconditions did not (coordinates, units and connections of
each part were checked; modalities, devices and connections are unions of checked parts; names
shared inside several parts are reported by `merge.py`). Here the merged fields are computed for all
parts at once, as a left fold of `+` would compute them (the library's helpers `merge_notes`,
`merge_optional_list`, `remove_duplicates`, `merge_coordinate_systems` and `DataStream.overlapping`
are called, not copied), and the model is built once with `model_construct`. The library is never
patched. Where `+` raises, this raises the same ValueError.

tests/test_merge.py pins the result equal to `functools.reduce(operator.add, parts)` on fixtures and
on generated parts, except for DIFFERENCES, which are deliberate: what the library's `+` loses or
makes order-dependent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import reduce
from typing import Any

# field -> why ours differs from the library's left fold (the test removes exactly these)
DIFFERENCES = {
    "instrument_id": "the distinct ids of all parts sorted and joined by '_' (the pairwise fold depends on order)",
    "acquisition_start_tz": "the earliest part's zone (the library re-derives it, turning a named zone into hours)",
    "manipulations": "every part's manipulations (the library drops them)",
    "data_streams[].code": "the code of every fused stream (the library drops it when streams fuse)",
}
STREAM_OVERLAP_S = 120  # the library's default for fusing data streams
DUPLICATE_ACTIVE_DEVICES = (
    "Duplicate active devices were removed. Only DAQ devices should be shared in overlapped DataStreams."
)
Warn = Callable[[str], None]


def sorted_id(ids: Sequence[str | None]) -> str | None:
    """The merged id as docs/design.md defines it: distinct ids, sorted, joined by '_'."""
    present = sorted({i for i in ids if i})
    return "_".join(present) if present else None


def pairwise_id(ids: Sequence[str | None]) -> str | None:
    """The id the library's left fold of `+` gives (`merge_str_alphabetical` at each step)."""
    from aind_data_schema.utils.merge import merge_str_alphabetical

    return reduce(merge_str_alphabetical, ids)


def _same_schema_version(parts: Sequence[Any], what: str) -> None:
    first = parts[0].schema_version
    for other in parts[1:]:
        if other.schema_version != first:
            raise ValueError(
                f"Cannot combine {what} objects with different schema versions: {first} and {other.schema_version}"
            )


def fold_instruments(parts: Sequence[Any]) -> Any:
    from aind_data_schema.core.instrument import Instrument
    from aind_data_schema.utils.merge import merge_notes, merge_optional_list

    _same_schema_version(parts, "Instrument")
    first = parts[0]
    for other in parts[1:]:
        if (
            other.location != first.location
            or other.global_coordinate_system != first.global_coordinate_system
            or other.temperature_control != first.temperature_control
        ):
            raise ValueError(
                "Cannot combine Instrument objects that differ in key fields:\n"
                f"location: {first.location}/{other.location}\n"
                f"global_coordinate_system: {first.global_coordinate_system}/{other.global_coordinate_system}\n"
                f"temperature_control: {first.temperature_control}/{other.temperature_control}"
            )
    components = list(first.components)  # the first part's are all kept; later ones only under a new name
    seen = {device.name for device in components}
    for other in parts[1:]:
        for device in other.components:
            if device.name not in seen:
                components.append(device)
                seen.add(device.name)
    return Instrument.model_construct(
        location=first.location,
        instrument_id=sorted_id([p.instrument_id for p in parts]),
        modification_date=max(p.modification_date for p in parts),
        modalities=sorted({m for p in parts for m in p.modalities}, key=lambda m: m.abbreviation),
        calibrations=reduce(merge_optional_list, [p.calibrations for p in parts]),
        global_coordinate_system=first.global_coordinate_system,
        temperature_control=first.temperature_control,
        notes=reduce(merge_notes, [p.notes for p in parts]),
        connections=[c for p in parts for c in p.connections],
        components=components,
    )


def _fuse(left: Any, right: Any, warn: Warn) -> Any:
    """`DataStream.__add__`, keeping `code`."""
    from aind_data_schema.core.acquisition import DataStream
    from aind_data_schema.utils.merge import merge_notes, remove_duplicates

    if not DataStream.overlapping(left, right, overlap_s=STREAM_OVERLAP_S):
        raise ValueError("Cannot combine DataStreams with non-overlapping start and end times.")
    devices = [*left.active_devices, *right.active_devices]
    unique_devices = remove_duplicates(devices)
    if len(unique_devices) < len(devices):
        warn(DUPLICATE_ACTIVE_DEVICES)
    joined = [*(left.code or []), *(right.code or [])]
    codes = [code for i, code in enumerate(joined) if code not in joined[:i]]  # Code is not hashable
    return DataStream.model_construct(
        stream_start_time=min(left.stream_start_time, right.stream_start_time),
        stream_end_time=max(left.stream_end_time, right.stream_end_time),
        modalities=remove_duplicates([*left.modalities, *right.modalities]),
        code=codes or None,
        active_devices=unique_devices,
        configurations=[*left.configurations, *right.configurations],
        connections=[*left.connections, *right.connections],
        notes=merge_notes(left.notes, right.notes),
    )


def _fuse_streams(streams: Sequence[Any], warn: Warn) -> list[Any]:
    """`Acquisition._merge_data_streams`: each stream takes the later ones overlapping it."""
    from aind_data_schema.core.acquisition import DataStream

    fused: list[Any] = []
    taken: set[int] = set()
    for i, head in enumerate(streams):
        if i in taken:
            continue
        group = [head]
        taken.add(i)
        for j in range(i + 1, len(streams)):
            if j not in taken and DataStream.overlapping(head, streams[j], overlap_s=STREAM_OVERLAP_S):
                group.append(streams[j])
                taken.add(j)
        fused.append(reduce(lambda a, b: _fuse(a, b, warn), group))
    return fused


def fold_acquisitions(parts: Sequence[Any], warn: Warn) -> Any:
    from aind_data_schema.core.acquisition import Acquisition, DataStream, ExternalDataStream
    from aind_data_schema.utils.merge import (
        merge_coordinate_systems,
        merge_notes,
        merge_optional_list,
        remove_duplicates,
    )

    _same_schema_version(parts, "Acquisition")
    first = parts[0]
    acquisition_type = first.acquisition_type
    subject_details = first.subject_details
    coordinate_system = first.global_coordinate_system
    regular = [s for s in first.data_streams if isinstance(s, DataStream)]
    for other in parts[1:]:  # the checks and the stream fusion of each step of the left fold
        coordinate_system = merge_coordinate_systems(coordinate_system, other.global_coordinate_system)
        if (
            other.subject_id != first.subject_id
            or other.specimen_id != first.specimen_id
            or (acquisition_type and other.acquisition_type and acquisition_type != other.acquisition_type)
        ):
            raise ValueError(
                "Cannot combine Acquisition objects that differ in key fields:\n"
                f"subject_id: {first.subject_id}/{other.subject_id}\n"
                f"specimen_id: {first.specimen_id}/{other.specimen_id}\n"
                f"acquisition_type: {acquisition_type}/{other.acquisition_type}"
            )
        if subject_details and other.subject_details:
            raise ValueError(
                "SubjectDetails cannot be combined in Acquisition. Only a single set of details is allowed."
            )
        regular = _fuse_streams([*regular, *(s for s in other.data_streams if isinstance(s, DataStream))], warn)
        acquisition_type = acquisition_type or other.acquisition_type
        subject_details = subject_details or other.subject_details
    earliest = min(parts, key=lambda p: p.acquisition_start_time)
    ethics_review_id = reduce(merge_optional_list, [p.ethics_review_id for p in parts])
    return Acquisition.model_construct(
        subject_id=first.subject_id,
        specimen_id=first.specimen_id,
        experimenters=remove_duplicates([e for p in parts for e in p.experimenters]),
        protocol_id=reduce(merge_optional_list, [p.protocol_id for p in parts]),
        ethics_review_id=remove_duplicates(ethics_review_id) if ethics_review_id else ethics_review_id,
        instrument_id=sorted_id([p.instrument_id for p in parts]),
        calibrations=[c for p in parts for c in p.calibrations],
        global_coordinate_system=coordinate_system,
        maintenance=[m for p in parts for m in p.maintenance],
        acquisition_start_time=earliest.acquisition_start_time,
        acquisition_start_tz=earliest.acquisition_start_tz,
        acquisition_end_time=max(p.acquisition_end_time for p in parts),
        acquisition_type=acquisition_type,
        notes=reduce(merge_notes, [p.notes for p in parts]),
        data_streams=[*regular, *(s for p in parts for s in p.data_streams if isinstance(s, ExternalDataStream))],
        stimulus_epochs=[e for p in parts for e in p.stimulus_epochs],
        manipulations=[m for p in parts for m in p.manipulations],
        subject_details=subject_details,
    )
