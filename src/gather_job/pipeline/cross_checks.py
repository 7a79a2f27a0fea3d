"""Checks across files (docs/design.md §7, checks 4-6), each producing findings.

Device checks (check 3) live in `devices.py`. Metadata's own validators are run one by one, as owned
code (`asset_rules.py`: importing Metadata would cost a fifth of a run), so a failing one cannot hide
the rest and none runs twice; the ones `devices.py` replaces, and the base-class scans that only
repeat the per-file checks, are not run.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from gather_job.findings import UNWRITABLE, Findings, Severity
from gather_job.pipeline import asset_rules, devices, load, specimens, time_constraints
from gather_job.pipeline.documents import Document, Gathered
from gather_job.pipeline.library_notices import capture
from gather_job.schema import CORE_FILES, file_name

TIME_TOLERANCE = timedelta(seconds=1)

# Metadata validators replaced by `check_devices`, and base-class ones that only repeat per-file checks;
# every other one is run as owned code (`asset_rules.VALIDATORS`, pinned to the library's list).
REPLACED_VALIDATORS = frozenset(
    {
        "validate_instrument_acquisition_compatibility",
        "validate_acquisition_active_devices",
        "validate_acquisition_connections",
        "unit_validator",
        "coordinate_system_validator",
    }
)


def _every_place(present: Sequence[tuple[str, str, str]]) -> str:
    by_value: dict[str, list[str]] = {}
    for label, _, value in present:
        by_value.setdefault(value, []).append(label)
    return "; ".join(f"{value!r} in {', '.join(labels)}" for value, labels in by_value.items())


def check_subject_ids(places: Sequence[tuple[str, str, str | None]], findings: Findings) -> None:
    """places: (label, location, value), the authoritative ones first (acquisition, else settings)."""
    present = [(label, loc, value) for label, loc, value in places if value is not None]
    if not present:
        return
    reference = present[0][2]
    agreeing = [label for label, _, value in present if value == reference]
    for label, loc, value in present[1:]:
        if value != reference:
            findings.error(
                "gather.subject_id.mismatch",
                f"{label} subject_id {value} != {reference} ({', '.join(agreeing)}).",
                files=(label,),
                location=loc,
                value=value,
                hint=f"Every place: {_every_place(present)}. One asset has one subject: make {label} say "
                f"{reference!r}, or check that it belongs to this asset.",
            )


def wall_clock(acquisition: Any) -> datetime:
    """The acquisition's start as the rig's clock showed it (naive).

    A named zone (acquisition_start_tz 'America/Los_Angeles') decides; otherwise the offset written
    in the file does, since aind-data-schema floors fixed offsets to whole hours in
    acquisition_start_tz (-03:30 becomes -4).
    """
    start = acquisition.acquisition_start_time
    if isinstance(acquisition.acquisition_start_tz, str):
        start = acquisition.acquisition_start_time_local
    return start.replace(tzinfo=None)  # type: ignore[no-any-return]


def check_start_time(setting: datetime | None, acquisition: Any, label: str, findings: Findings) -> None:
    """Settings and acquisition agree within 1 s; a naive setting is compared as wall-clock time."""
    if setting is None or acquisition is None:
        return
    actual = acquisition.acquisition_start_time
    if setting.tzinfo is None:
        difference = abs(wall_clock(acquisition) - setting)
        shown = f"{wall_clock(acquisition).isoformat()} wall-clock, i.e. {actual.isoformat()}"
    else:
        difference = abs(actual - setting)
        shown = actual.isoformat()
    if difference > TIME_TOLERANCE:
        findings.error(
            "gather.time.mismatch",
            f"acquisition_start_time in the settings ({setting.isoformat()}) != {label} ({shown}): "
            f"{difference.total_seconds():g} s apart.",
            files=(label,),
            location="acquisition_start_time",
            value=setting.isoformat(),
            hint=f"The settings say {setting.isoformat()}; {label} says {shown}. Check that the upload request "
            "and the acquisition describe the same session (times agree within 1 s; a time without offset is "
            "the rig's wall-clock).",
        )


def check_time_order(acq_parts: Sequence[tuple[str, Any]], findings: Findings) -> None:
    """An end before its start (the acquisition's, a data stream's, a stimulus epoch's), said as such:
    the time-constraint check would only call some time "not between 09:00 and 08:00"."""
    for label, acquisition in acq_parts:
        for holder, start_name, start, end_name, end in time_constraints.reversed_ranges(acquisition):
            at = f"{holder}." if holder else ""
            findings.error(
                "gather.time.end_before_start",
                f"In {label}, {at}{end_name} ({end.isoformat()}) is before {at}{start_name} ({start.isoformat()}).",
                files=(label,),
                location=f"{at}{end_name}",
                value=end.isoformat(),
                hint=f"An end cannot come before its start: correct {at}{start_name} or {at}{end_name} in {label} "
                "(check the date, and the UTC offsets: a time without one is read as the rig's clock).",
            )


def check_modalities(
    description: Any,
    instrument: Any,
    acquisition: Any,
    labels: dict[str, str],
    findings: Findings,
    *,
    description_built: bool = True,
) -> None:
    """Warn when the asset's modalities leave out one the instrument or acquisition has.

    `description_built`: data_description comes from the settings (the fix is there); otherwise it
    is a file of the folder, which the settings do not change (the fix is in the file)."""
    if description is None:
        return
    dd_label = labels.get("data_description", "data_description.json")
    declared = {m.abbreviation for m in description.modalities}
    sources: dict[str, set[str]] = {}
    if acquisition is not None:
        sources[labels.get("acquisition", "acquisition.json")] = {
            m.abbreviation for s in acquisition.data_streams for m in s.modalities
        }
    if instrument is not None:
        sources[labels.get("instrument", "instrument.json")] = {m.abbreviation for m in instrument.modalities}
    for label, found in sources.items():
        missing = sorted(found - declared)
        if missing:
            findings.warning(
                "gather.modalities.not_covered",
                f"{label} has modalities {missing} that data_description.modalities does not list.",
                files=(dd_label, label),
                location="modalities",
                value=missing,
                hint=(
                    "Add them to data_description_settings.modalities if the asset holds that data."
                    if description_built
                    else f"Add them to `modalities` in {dd_label} if the asset holds that data (the file is "
                    "used as it is: data_description_settings do not change it)."
                ),
            )


# What each whole-asset check needs besides what it guards itself (each skips a file it does not find):
# when one of these is not available here (`check` offline), the check stays open instead.
NEEDS = {
    "validate_required_files": {"subject"},
    "validate_calibration_object_tags": {"subject", "data_description"},
    "validate_training_protocol_references": {"procedures"},
    "validate_smartspim_metadata": {"procedures", "data_description"},
    "validate_ecephys_metadata": {"procedures", "data_description"},
    "validate_time_constraints": {"subject", "procedures"},
    "validate_data_description_name_time_consistency": {"data_description"},
}


# The files each whole-asset check reads, so its error or warning is filed under them (not under every
# file of the asset); the first is the one to fix. Missing: every file.
INVOLVES = {
    "validate_subject_details_if_not_specimen": ("acquisition",),
    "validate_required_files": ("subject",),
    "validate_smartspim_metadata": ("procedures", "data_description"),
    "validate_ecephys_metadata": ("procedures", "data_description"),
    "validate_calibration_object_tags": ("data_description", "subject"),
    "validate_training_protocol_references": ("acquisition", "procedures"),
    "validate_data_description_name_time_consistency": ("data_description", "acquisition"),
}
HINTS = {
    "validate_subject_details_if_not_specimen": "Add subject_details to the acquisition (or specimen_id for a "
    "specimen).",
    "validate_required_files": "Add subject.json (a processed or model asset has processing.json or model.json "
    "instead).",
}


def check_metadata(
    core: dict[str, Any],
    name: str,
    location: str,
    labels: dict[str, str],
    findings: Findings,
    unseen: frozenset[str] = frozenset(),
) -> list[str]:
    """Run Metadata's own cross-file validators once each (owned, `asset_rules`), so a failing one
    cannot hide the rest.

    A check that needs a file `unseen` here is not run (its name is returned), except where it only
    reads that file when present and the rest of it is still worth running (time constraints).
    """
    asset = asset_rules.Asset(name=name, location=location, **core)
    every = tuple(labels[k] for k in core if k in labels)
    open_checks: list[str] = []
    reversed_holders = time_constraints.reversed_holders(core.get("acquisition"))
    for validator_name, validator in asset_rules.VALIDATORS:
        needs = NEEDS.get(validator_name, set()) & unseen
        if needs:
            open_checks.append(validator_name.removeprefix("validate_"))
            if validator_name != "validate_time_constraints":  # it reads an absent file only if present
                continue
        kinds = INVOLVES.get(validator_name)
        files = tuple(labels.get(k, file_name(k)) for k in kinds) if kinds else every
        if validator_name == "validate_required_files" and _said(findings, files):
            continue  # the missing file has its own error already: one problem, one finding
        with capture(findings, files, "validating the whole asset"):
            try:
                validator(asset)
            except time_constraints.Violation as exc:
                if "" in reversed_holders or (exc.kind == "acquisition" and _holder(exc.path) in reversed_holders):
                    continue  # limits (or the range itself) reversed: said as gather.time.end_before_start
                _time_violation(exc, labels, findings)
            except (ValueError, AttributeError, TypeError) as exc:
                findings.error(
                    f"gather.metadata.{validator_name.removeprefix('validate_')}",
                    f"The asset as a whole is invalid: {exc}",
                    files=files,
                    hint=HINTS.get(validator_name, "aind-data-schema's Metadata check; the message names the field."),
                )
    return open_checks


def _said(findings: Findings, files: tuple[str, ...]) -> bool:
    """An error already filed under one of `files` (a core file missing or not found by the service)."""
    return any(f.severity is Severity.error and set(f.files) & set(files) for f in findings)


def _holder(path: str) -> str:
    """The path of the object holding the field at `path` ("" for the document itself)."""
    return path.rsplit(".", 1)[0] if "." in path else ""


def _time_violation(exc: time_constraints.Violation, labels: dict[str, str], findings: Findings) -> None:
    label = labels.get(exc.kind, f"{exc.kind}.json")
    acquisition = labels.get("acquisition", "acquisition.json")
    findings.error(
        "gather.metadata.time_constraints",
        f"The asset as a whole is invalid: {exc}",
        files=tuple(dict.fromkeys((label, acquisition))),  # the time, and the start and end it must lie within
        location=exc.path,
        hint=f"{_TIME_RULES.get(exc.rule, _TIME_RULES['between']).format(label=label, acquisition=acquisition)} "
        "(aind-data-schema's Metadata check). Correct that time, its UTC offset (a time without one is read as "
        "the rig's clock), or the acquisition's times.",
    )


# the library's TimeValidation rules, said as what the field must be
_TIME_RULES = {
    "between": "This time in {label} must lie between the acquisition's start and end (acquisition_start_time "
    "and acquisition_end_time in {acquisition})",
    "before": "This time in {label} must be before the acquisition's end (acquisition_end_time in {acquisition})",
    "after": "This time in {label} must be after the acquisition's start (acquisition_start_time in {acquisition})",
}


def _valid_parts(
    kind: str, whole: Any, parts: dict[str, list[Document]], labels: dict[str, str]
) -> list[tuple[str, Any]]:
    """The valid parts a merged file came from, or the file itself."""
    valid = [(d.label, d.model) for d in parts.get(kind, []) if d.valid]
    return valid or ([(labels[kind], whole)] if whole is not None else [])


def check_outputs(result: Gathered, *, blocked: bool) -> None:
    """A core file the asset must have (data_description.json, always built) or whose inputs the folder
    holds, that this run cannot make: `raise_if_invalid=false` writes invalid files as they are, not
    an asset without them. The reference stopped in these cases too (a missing start time or
    subject_id, a merge part that does not validate), so the run stops whatever that setting says."""
    if blocked:
        return  # the errors that left the file out stop the run already: one problem, one finding
    made = {kind for kind, doc in result.documents.items() if doc.model is not None or doc.data is not None}
    plan = result.plan
    expected = {"data_description", *plan.exact, *plan.parts} - result.unchecked
    for kind in (k for k in CORE_FILES if k in expected - made):
        name = file_name(kind)
        parts = plan.parts.get(kind, [])
        why = (
            f"its parts ({', '.join(parts)}) did not give a merged file"
            if parts
            else "it could not be built"
            if kind == "data_description"
            else f"{plan.exact.get(kind, name)} could not be read"
        )
        result.findings.error(
            UNWRITABLE,
            f"{name} cannot be written: {why} (the errors above say why). An asset without it is never "
            "written: raise_if_invalid=false and a findings policy pass invalid files on, never leave one out.",
            files=(name,),
            hint="Fix the errors named for those files or settings, then run again.",
        )


def cross_check(result: Gathered) -> None:
    """All checks across files, on whatever validated; the whole-asset check only when all did.

    Files `check` could not get (`result.unchecked`: offline, no settings) soften what depends on
    them: a device may be implanted per procedures not seen, and the whole-asset check is skipped.
    """
    load.upgrade_hints(result.findings, result.folder_label)  # every 1.x file is known by now: DIR filled in, once
    settings, documents, findings = result.settings, result.documents, result.findings
    labels, parts = result.labels, result.parts
    model = {kind: doc.model for kind, doc in documents.items() if doc.model is not None}
    acq = model.get("acquisition")
    acq_parts = _valid_parts("acquisition", acq, parts, labels)
    places: list[tuple[str, str, str | None]] = [(label, "subject_id", p.subject_id) for label, p in acq_parts]
    places.append(("settings", "subject_id", settings.subject_id))
    for kind in ("subject", "procedures", "data_description"):
        if kind in model:
            places.append((labels[kind], "subject_id", getattr(model[kind], "subject_id", None)))
    check_subject_ids(places, findings)
    check_time_order(acq_parts, findings)
    if acq is not None:
        earliest = min(acq_parts, key=lambda part: part[1].acquisition_start_time)[0]
        check_start_time(settings.acquisition_start_time, acq, earliest, findings)
    if acq is not None and "instrument" in documents and "instrument" not in model:
        findings.info(
            "gather.metadata.skipped",
            "The devices of the acquisition were not checked: the instrument did not validate or merge.",
        )
    elif acq is not None:
        instrument = model.get("instrument")
        devices.check_devices(
            instrument,
            acq,
            model.get("procedures"),
            labels,
            acq_parts,
            _valid_parts("instrument", instrument, parts, labels),
            findings,
            procedures_unseen=bool({"procedures", "service_procedures"} & result.unchecked),
            instrument_unseen="instrument" in result.unchecked,
            instrument_id=settings.instrument_settings.instrument_id,
        )
    elif "acquisition" not in documents and "session.json" not in result.plan.legacy:  # else said already
        findings.warning(
            "gather.resolve.missing",
            "No acquisition.json or acquisition*.json in the folder.",
            files=("acquisition.json",),
            hint="A raw asset normally has one; subject_id and acquisition_start_time then come from the settings.",
        )
    if acq is not None and "procedures" in model and not {"procedures", "service_procedures"} & result.unchecked:
        specimens.check_specimens(acq, model["procedures"], labels, findings)
    built = "data_description" not in documents or "built_from" in documents["data_description"].origin
    check_modalities(
        model.get("data_description"), model.get("instrument"), acq, labels, findings, description_built=built
    )
    if model and len(model) == len(documents):
        name = getattr(model.get("data_description"), "name", None) or "unknown"
        unseen = frozenset(result.unchecked)
        open_checks = check_metadata(model, name, settings.output_dir or "", labels, findings, unseen)
        if open_checks:
            result.open_checks.extend(open_checks)
            findings.info(
                "gather.metadata.not_checked",
                f"Whole-asset checks that need what the service gives at upload ({', '.join(sorted(unseen))}) "
                f"stay open here: {', '.join(open_checks)}.",
                hint="Run `gather-job check` online (without --offline), or give the files, to settle them.",
            )
    elif model:
        findings.info(
            "gather.metadata.skipped",
            "The whole-asset check did not run because some files are invalid; fix those first.",
        )
