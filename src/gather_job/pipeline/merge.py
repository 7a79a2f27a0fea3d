"""Merging several instrument / acquisition / quality_control parts with aind-data-schema's rules.

The library's `+` checks a few key fields and raises, but it only *logs* shared device names (and
drops the second copy), folds ids pairwise (so three parts give an order-dependent id), and drops
`manipulations`, `acquisition_start_tz` and the fused streams' `code`. Here the preconditions are
checked first, per part, as findings with file names; the parts are folded in a fixed order (sorted
file names, the service record last) by `fold.py`, which keeps what the library drops; the merged id
is the sorted join of all parts' ids. Quality control uses the library's validated `+` (its
after-validator computes `status`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import reduce
from typing import Any

from pydantic import ValidationError

from gather_job.findings import Findings, Severity
from gather_job.pipeline import fold
from gather_job.pipeline.documents import Document, Part, device_names, stable_status
from gather_job.pipeline.library_notices import capture, logged


def _fold(parts: Sequence[Part], findings: Findings, what: str, combine: Callable[[list[Any]], Any]) -> Any:
    labels = tuple(label for label, _ in parts)
    with capture(findings, labels, f"merging {what}"):
        try:
            return combine([model for _, model in parts])
        except (ValueError, ValidationError, AttributeError, TypeError) as exc:
            findings.error(
                "gather.merge.failed",
                f"aind-data-schema could not merge the {what} parts {list(labels)}: {exc}",
                files=labels,
                hint="Make the parts agree on the fields named above.",
            )
            return None


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
    # devices named in two parts: an error, but the library merges (the first copy kept), as the reference
    # did; checked whatever the fields above say, so every problem of the parts is told in one round
    _shared_devices(parts, findings)
    _shared_nested_names(parts, findings)
    if broken:  # the library's `+` raises on these: there is no merged instrument
        return None
    merged = _fold(parts, findings, "instrument", fold.fold_instruments)
    if merged is None:
        return None
    ids = [model.instrument_id for _, model in parts]
    pairwise = fold.pairwise_id(ids)
    if pairwise != merged.instrument_id:
        findings.info(
            "gather.merge.instrument_id_reordered",
            f"aind-data-schema's pairwise merge gave instrument_id {pairwise!r}; "
            f"the job uses the sorted join {merged.instrument_id!r}.",
            files=tuple(label for label, _ in parts),
            location="instrument_id",
        )
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
    """What the merged instrument's own duplicate-name check would log (fold.py does not re-validate the union)."""
    top: dict[str, int] = {}
    for _, model in parts:
        for device in model.components:
            top[device.name] = top.get(device.name, 0) + 1
    seen: dict[str, list[str]] = {}
    for label, model in parts:
        for name in set(device_names(model)) - {model.instrument_id}:
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
    """Fold acquisition parts, keeping what `Acquisition.__add__` drops; None when a precondition fails."""
    if len(parts) == 1:
        return parts[0][1]
    # subject_id: the cross-checks report a disagreement once, in the file that differs, with every place
    broken = len({model.subject_id for _, model in parts}) > 1
    broken |= _disagreement(
        parts,
        "specimen_id",
        findings,
        "acquisition",
        "Every acquisition file of one asset must have the same specimen_id.",
    )
    typed = [(label, model) for label, model in parts if model.acquisition_type]  # an empty one takes the other's
    broken |= _disagreement(
        typed, "acquisition_type", findings, "acquisition", "Acquisition parts that set acquisition_type must agree."
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
    labels = tuple(label for label, _ in parts)
    merged = _fold(
        parts, findings, "acquisition", lambda models: fold.fold_acquisitions(models, warn=_warner(findings, labels))
    )
    if merged is None:
        return None
    if not merged.acquisition_type:
        findings.error(
            "gather.merge.no_acquisition_type",
            f"No acquisition part sets acquisition_type, so the merged acquisition has none ({list(labels)}).",
            files=labels,
            location="acquisition_type",
            hint="Set acquisition_type (e.g. the experiment's name) in one of the acquisition files; a rig "
            "mapper's part (acquisition_fip.json) leaves it empty.",
        )
    _report_kept(parts, merged, findings)
    return merged


def _warner(findings: Findings, labels: tuple[str, ...]) -> fold.Warn:
    """What the library would have logged while merging, as the finding its log record would give."""
    return lambda message: logged(findings, labels, "merging acquisition", message)


def _report_kept(parts: Sequence[Part], merged: Any, findings: Findings) -> None:
    """Say what the fold kept that the library's `+` would have dropped or changed (fold.DIFFERENCES)."""
    from aind_data_schema.utils.validators import extract_timezone_from_datetime

    kept: list[str] = []
    manipulations = sum(len(model.manipulations) for _, model in parts)
    if manipulations:
        kept.append(f"{manipulations} manipulation(s)")
    originals = {id(stream) for _, model in parts for stream in model.data_streams}
    codes = sum(1 for s in merged.data_streams if id(s) not in originals and getattr(s, "code", None))
    if codes:
        kept.append(f"the code of {codes} fused data stream(s)")
    if merged.acquisition_start_tz != extract_timezone_from_datetime(merged.acquisition_start_time):
        kept.append(f"acquisition_start_tz {merged.acquisition_start_tz!r}")
    if fold.pairwise_id([model.instrument_id for _, model in parts]) != merged.instrument_id:
        kept.append(f"instrument_id as the sorted join {merged.instrument_id!r}")
    if kept:
        findings.info(
            "gather.merge.restored",
            "Kept what aind-data-schema's acquisition merge drops: " + ", ".join(kept) + ".",
            files=tuple(label for label, _ in parts),
        )


def merge_quality_control(parts: Sequence[Part], findings: Findings) -> Any:
    if len(parts) == 1:
        return parts[0][1]
    merged = _fold(parts, findings, "quality_control", lambda models: reduce(lambda a, b: a + b, models))
    if merged is not None:
        merged.allow_tag_failures = sorted(merged.allow_tag_failures, key=str)  # the library uses a set
        stable_status(merged)  # so does its status, computed when `+` validates the sum
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
        findings.info(  # a note: the errors of those files are the problem, reported once, with them
            "gather.merge.skipped",
            f"{kind}.json was not merged because {', '.join(bad)} could not be read or did not validate.",
            files=tuple(bad),
            hint="Fix the errors reported for those files.",
        )
        return None
    return MERGERS[kind]([(doc.label, doc.model) for doc in docs], findings)
