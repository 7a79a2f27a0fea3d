"""Merging several instrument / acquisition / quality_control parts with aind-data-schema's `+`.

The library's `+` checks a few key fields and raises, but it only *logs* shared device names (and
drops the second copy), folds ids pairwise (so three parts give an order-dependent id), and drops
`manipulations`, `acquisition_start_tz` and the fused streams' `code`. Here the preconditions are
checked first, per part, as findings with file names; the fold runs in a fixed order (sorted file
names, the service record last); the merged id is the sorted join of all parts' ids; and what the
library drops is put back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import Any

from pydantic import ValidationError

from gather_job.capture import capture
from gather_job.findings import Findings, Severity
from gather_job.parse import Document
from gather_job.trusted import construct_merges

Part = tuple[str, Any]  # (label, validated model)


def expected_id(ids: Sequence[str | None]) -> str | None:
    """Merged id as DESIGN.md defines it: distinct ids, sorted, joined by '_'."""
    present = sorted({i for i in ids if i})
    return "_".join(present) if present else None


def _fold(parts: Sequence[Part], findings: Findings, what: str, step: Callable[[Any, Any], Any]) -> Any:
    labels = tuple(label for label, _ in parts)
    merged = parts[0][1]
    trusted = construct_merges() if what in ("instrument", "acquisition") else nullcontext()
    with capture(findings, labels, f"merging {what}"), trusted:
        try:
            for _, model in parts[1:]:
                merged = step(merged, model)
        except (ValueError, ValidationError, AttributeError, TypeError) as exc:
            findings.error(
                "gather.merge.failed",
                f"aind-data-schema could not merge the {what} parts {list(labels)}: {exc}",
                files=labels,
                hint="Make the parts agree on the fields named above.",
            )
            return None
    return merged


def _disagreement(parts: Sequence[Part], field: str, findings: Findings, what: str, fix: str) -> bool:
    values = [(label, getattr(model, field, None)) for label, model in parts]
    distinct = {repr(v) for _, v in values}
    if len(distinct) <= 1:
        return False
    listed = ", ".join(f"{_show(v)} ({label})" for label, v in values)
    findings.error(
        f"gather.merge.{what}_mismatch",
        f"The {what} files disagree on {field}: {listed}.",
        files=tuple(label for label, _ in values),
        location=field,
        value=[_show(v) for _, v in values],
        hint=fix,
    )
    return True


def _show(value: Any) -> Any:
    if hasattr(value, "name") and hasattr(value, "model_dump"):
        return value.name
    return value


def merge_instruments(parts: Sequence[Part], findings: Findings) -> Any:
    """Fold instrument parts; None when a precondition fails (reported as findings)."""
    if len(parts) == 1:
        return parts[0][1]
    broken = False
    for field in ("location", "global_coordinate_system", "temperature_control"):
        broken |= _disagreement(
            parts, field, findings, "instrument", f"All instrument parts must have the same {field}."
        )
    broken |= _shared_devices(parts, findings)
    if broken:
        return None
    _shared_nested_names(parts, findings)
    merged = _fold(parts, findings, "instrument", lambda a, b: a + b)
    if merged is None:
        return None
    want = expected_id([model.instrument_id for _, model in parts])
    if want and merged.instrument_id != want:
        findings.info(
            "gather.merge.instrument_id_reordered",
            f"aind-data-schema's pairwise merge gave instrument_id {merged.instrument_id!r}; "
            f"the job uses the sorted join {want!r}.",
            files=tuple(label for label, _ in parts),
            location="instrument_id",
        )
        merged.instrument_id = want
    return merged


def _is_clock(device: Any) -> bool:
    return type(device).__name__ == "HarpDevice" and getattr(device, "is_clock_generator", False) is True


def _shared_devices(parts: Sequence[Part], findings: Findings) -> bool:
    """A name held by two parts is an error, except one Harp clock generator shared by all."""
    owners: dict[str, list[tuple[str, Any]]] = {}
    for label, model in parts:
        for device in model.components:
            owners.setdefault(device.name, []).append((label, device))
    broken = False
    for name, held in owners.items():
        if len(held) < 2:
            continue
        labels = tuple(label for label, _ in held)
        if all(_is_clock(device) for _, device in held):
            first = held[0][1].model_dump(mode="json")
            same = all(device.model_dump(mode="json") == first for _, device in held[1:])
            findings.add(
                "gather.merge.shared_clock",
                Severity.info if same else Severity.warning,
                f"Harp clock generator '{name}' is in {list(labels)}; one copy is kept"
                + ("." if same else ", but the copies differ: the first one is kept."),
                files=labels,
                location="components",
                value=name,
                hint=None if same else "Make the clock's description identical in every instrument file.",
            )
            continue
        broken = True
        findings.error(
            "gather.merge.shared_device",
            f"Device name '{name}' is used by {list(labels)}; aind-data-schema would keep only the first "
            "and silently drop the others.",
            files=labels,
            location="components",
            value=name,
            hint="Give each physical device one name and describe it in one instrument file "
            "(only a HarpDevice with is_clock_generator=true may be shared).",
        )
    return broken


def _shared_nested_names(parts: Sequence[Part], findings: Findings) -> None:
    """What the merged instrument's own duplicate-name check would log (it is not re-run, see trusted.py)."""
    top: dict[str, int] = {}
    for _, model in parts:
        for device in model.components:
            top[device.name] = top.get(device.name, 0) + 1
    seen: dict[str, list[str]] = {}
    for label, model in parts:
        for name in set(model.get_component_names()) - {model.instrument_id}:
            seen.setdefault(name, []).append(label)
    # names top-level in two parts are _shared_devices' (an error, or the allowed Harp clock)
    shared = sorted(name for name, labels in seen.items() if len(labels) > 1 and top.get(name, 0) < 2)
    if shared:
        findings.warning(
            "gather.merge.duplicate_names",
            f"Names used inside several instrument parts: {shared}; device lookups by name become ambiguous.",
            files=tuple(label for label, _ in parts),
            value=shared,
            hint="Give nested devices names unique across the instrument files.",
        )


def merge_acquisitions(parts: Sequence[Part], findings: Findings) -> Any:
    """Fold acquisition parts, then restore what `Acquisition.__add__` drops."""
    if len(parts) == 1:
        return parts[0][1]
    broken = False
    for field in ("subject_id", "specimen_id", "acquisition_type"):
        broken |= _disagreement(
            parts,
            field,
            findings,
            "acquisition",
            f"Every acquisition file of one asset must have the same {field}.",
        )
    with_details = [label for label, model in parts if model.subject_details]
    if len(with_details) > 1:
        broken = True
        findings.error(
            "gather.merge.subject_details_twice",
            f"subject_details appear in {with_details}; only one acquisition part may have them.",
            files=tuple(with_details),
            location="subject_details",
            hint="Keep subject_details in one acquisition file and remove them from the others.",
        )
    systems = {repr(m.global_coordinate_system) for _, m in parts if m.global_coordinate_system is not None}
    if len(systems) > 1:
        broken |= _disagreement(
            [(lab, m) for lab, m in parts if m.global_coordinate_system is not None],
            "global_coordinate_system",
            findings,
            "acquisition",
            "Acquisition parts that set a coordinate system must set the same one.",
        )
    if broken:
        return None
    merged = _fold(parts, findings, "acquisition", _add_acquisitions)
    if merged is None:
        return None
    _restore_acquisition(parts, merged, findings)
    return merged


def _stream_groups(streams: Sequence[Any]) -> list[list[Any]]:
    """The library's fusion groups (Acquisition._merge_data_streams), recomputed to recover `code`."""
    from aind_data_schema.core.acquisition import DataStream

    groups: list[list[Any]] = []
    visited: set[int] = set()
    for i, head in enumerate(streams):
        if i in visited:
            continue
        group = [head]
        visited.add(i)
        for j in range(i + 1, len(streams)):
            if j not in visited and DataStream.overlapping(head, streams[j], overlap_s=120):
                group.append(streams[j])
                visited.add(j)
        groups.append(group)
    return groups


def _add_acquisitions(left: Any, right: Any) -> Any:
    from aind_data_schema.core.acquisition import DataStream

    regular = [s for s in [*left.data_streams, *right.data_streams] if isinstance(s, DataStream)]
    merged = left + right
    for index, group in enumerate(_stream_groups(regular)):
        codes = [code for stream in group for code in (stream.code or [])]
        unique = [c for i, c in enumerate(codes) if c not in codes[:i]]
        if len(group) > 1 and unique:
            merged.data_streams[index].code = unique
    return merged


def _restore_acquisition(parts: Sequence[Part], merged: Any, findings: Findings) -> None:
    restored: list[str] = []
    manipulations = [m for _, model in parts for m in model.manipulations]
    if manipulations and not merged.manipulations:
        merged.manipulations = manipulations
        restored.append(f"{len(manipulations)} manipulation(s)")
    codes = sum(1 for s in merged.data_streams if getattr(s, "code", None))
    if codes:
        restored.append(f"the code of {codes} fused data stream(s)")
    earliest = min(parts, key=lambda part: part[1].acquisition_start_time)[1]
    if earliest.acquisition_start_tz is not None and merged.acquisition_start_tz != earliest.acquisition_start_tz:
        merged.acquisition_start_tz = earliest.acquisition_start_tz
        restored.append(f"acquisition_start_tz {earliest.acquisition_start_tz!r}")
    want = expected_id([model.instrument_id for _, model in parts])
    if want and merged.instrument_id != want:
        merged.instrument_id = want
        restored.append(f"instrument_id as the sorted join {want!r}")
    if restored:
        findings.info(
            "gather.merge.restored",
            "Kept what aind-data-schema's acquisition merge drops: " + ", ".join(restored) + ".",
            files=tuple(label for label, _ in parts),
        )


def merge_quality_control(parts: Sequence[Part], findings: Findings) -> Any:
    if len(parts) == 1:
        return parts[0][1]
    merged = _fold(parts, findings, "quality_control", lambda a, b: a + b)
    if merged is not None:
        merged.allow_tag_failures = sorted(merged.allow_tag_failures, key=str)  # the library uses a set
    return merged


MERGERS: dict[str, Callable[[Sequence[Part], Findings], Any]] = {
    "instrument": merge_instruments,
    "acquisition": merge_acquisitions,
    "quality_control": merge_quality_control,
}


def merge(kind: str, docs: Sequence[Document], findings: Findings) -> Any:
    """Merge the valid parts of one kind; None when any part is invalid or the merge fails."""
    if any(not doc.valid for doc in docs):
        bad = [doc.label for doc in docs if not doc.valid]
        findings.error(
            "gather.merge.skipped",
            f"{kind}.json was not merged because {bad} did not validate.",
            files=tuple(bad),
            hint="Fix the errors reported for those files.",
        )
        return None
    return MERGERS[kind]([(doc.label, doc.model) for doc in docs], findings)
