"""Checks across files (DESIGN.md section 7, checks 3-6), each producing findings.

Device names are looked up in sets built once. The device checks replace both the library's
`InstrumentAcquisitionCompatibility` and Metadata's three device validators: they cover the same
ground (a test pins the equivalence on every fixture) but report every missing device, where it is
named, and the closest existing names. Metadata's other validators are run one by one on a
`model_construct`ed Metadata, so a failing one cannot hide the rest and none runs twice.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from gather_job import models
from gather_job.capture import capture
from gather_job.findings import Findings

TIME_TOLERANCE = timedelta(seconds=1)

# Metadata validators replaced by `check_devices`, and base-class ones that only repeat per-file checks.
REPLACED_VALIDATORS = frozenset(
    {
        "validate_instrument_acquisition_compatibility",
        "validate_acquisition_active_devices",
        "validate_acquisition_connections",
        "unit_validator",
        "coordinate_system_validator",
    }
)


def closest(name: str, names: Iterable[str]) -> list[str]:
    return difflib.get_close_matches(name, sorted(set(names)), n=3, cutoff=0.5)


def _suggest(name: str, names: Iterable[str], where: str) -> str:
    near = closest(name, names)
    if near:
        return f"Did you mean {' or '.join(repr(n) for n in near)}? Otherwise add '{name}' to {where}."
    return f"Add a device named '{name}' to {where}, or remove it from the acquisition."


def check_devices(
    instrument: Any,
    acquisition: Any,
    procedures: Any,
    labels: dict[str, str],
    acquisition_parts: Sequence[tuple[str, Any]],
    instrument_parts: Sequence[tuple[str, Any]],
    findings: Findings,
) -> None:
    """Every device an acquisition part names exists; acquisition and instrument agree on the id.

    The parts are checked (not the merged acquisition) so each finding points at the file and the
    place to edit; the merge only unions their device names.
    """
    from aind_data_schema.core.acquisition import DataStream

    acq_label = labels.get("acquisition", "acquisition.json")
    inst_label = labels.get("instrument", "instrument.json")
    if instrument is None:
        if any(isinstance(s, DataStream) for s in acquisition.data_streams):
            findings.error(
                "gather.compat.no_instrument",
                f"{acq_label} has data streams but the asset has no instrument.",
                files=(acq_label,),
                location="data_streams",
                hint="Add instrument*.json to the folder or set instrument_settings.instrument_id.",
            )
        return
    if acquisition.instrument_id != instrument.instrument_id:
        _instrument_id_mismatch(
            acquisition, instrument, acq_label, inst_label, acquisition_parts, instrument_parts, findings
        )
    in_instrument = set(instrument.get_component_names())
    implanted = set(procedures.get_device_names()) if procedures is not None else set()
    anywhere = in_instrument | implanted
    where_all = f"{inst_label} (components) or to an implanted_device in procedures.json"
    for label, part in acquisition_parts:
        for i, stream in enumerate(part.data_streams):
            if not isinstance(stream, DataStream):
                continue
            for j, device in enumerate(stream.active_devices):
                if device not in anywhere:
                    findings.error(
                        "gather.compat.unknown_active_device",
                        f"active device {device!r} is in no instrument and no procedure.",
                        files=(label,),
                        location=f"data_streams[{i}].active_devices[{j}]",
                        value=device,
                        hint=_suggest(device, anywhere, where_all),
                    )
            for j, connection in enumerate(stream.connections):
                for end in ("source_device", "target_device"):
                    device = getattr(connection, end)
                    if device not in anywhere:
                        findings.error(
                            "gather.compat.unknown_connection_device",
                            f"connection {end} {device!r} is in no instrument and no procedure.",
                            files=(label,),
                            location=f"data_streams[{i}].connections[{j}].{end}",
                            value=device,
                            hint=_suggest(device, anywhere, where_all),
                        )
        for i, epoch in enumerate(part.stimulus_epochs):
            for j, device in enumerate(epoch.active_devices):
                if device not in in_instrument:
                    findings.error(
                        "gather.compat.unknown_stimulus_device",
                        f"stimulus device {device!r} is not a component of the instrument.",
                        files=(label,),
                        location=f"stimulus_epochs[{i}].active_devices[{j}]",
                        value=device,
                        hint=_suggest(device, in_instrument, f"{inst_label} (components)"),
                    )


def _instrument_id_mismatch(
    acquisition: Any,
    instrument: Any,
    acq_label: str,
    inst_label: str,
    acquisition_parts: Sequence[tuple[str, Any]],
    instrument_parts: Sequence[tuple[str, Any]],
    findings: Findings,
) -> None:
    """Say which acquisition file names an id that no instrument part has, and what it should be."""
    part_ids = {model.instrument_id: label for label, model in instrument_parts}
    culprits = [(label, m.instrument_id) for label, m in acquisition_parts if m.instrument_id not in part_ids]
    files = tuple(label for label, _ in culprits) or (acq_label,)
    hint = f"The acquisition must name the instrument it used: {instrument.instrument_id!r}"
    if len(instrument_parts) > 1:
        hint += " (the instrument files' ids sorted and joined by '_')"
    if culprits:
        listed = ", ".join(f"{label} says {value!r}" for label, value in culprits)
        known = ", ".join(f"{i!r} ({label})" for i, label in sorted(part_ids.items()))
        hint += f". {listed}; the instrument files have {known}"
        near = [closest(str(value), part_ids) for _, value in culprits]
        if len(culprits) == 1 and near[0]:
            hint += f": did you mean {near[0][0]!r}?"
    findings.error(
        "gather.compat.instrument_id_mismatch",
        f"acquisition instrument_id {acquisition.instrument_id!r} != merged instrument {instrument.instrument_id!r}.",
        files=files if culprits else (acq_label, inst_label),
        location="instrument_id",
        value=acquisition.instrument_id,
        hint=hint if hint.endswith(("?", ".")) else hint + ".",
    )


def check_subject_ids(places: Sequence[tuple[str, str, str | None]], findings: Findings) -> None:
    """places: (label, location, value), the authoritative one first (acquisition, else settings)."""
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
                hint=f"One asset has one subject: make {label} say {reference!r}, "
                "or check that it belongs to this asset.",
            )


def wall_clock(moment: datetime, acquisition: Any) -> datetime:
    """The acquisition's start as the rig's clock showed it (naive)."""
    local = acquisition.acquisition_start_time_local if acquisition is not None else moment
    return local.replace(tzinfo=None)


def check_start_time(setting: datetime | None, acquisition: Any, label: str, findings: Findings) -> None:
    """Settings and acquisition agree within 1 s; a naive setting is compared as wall-clock time."""
    if setting is None or acquisition is None:
        return
    actual = acquisition.acquisition_start_time
    if setting.tzinfo is None:
        difference = abs(wall_clock(actual, acquisition) - setting)
        shown = f"{wall_clock(actual, acquisition).isoformat()} wall-clock ({actual.isoformat()})"
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
            hint="Check that the upload request and the acquisition describe the same session.",
        )


def check_modalities(
    description: Any, instrument: Any, acquisition: Any, labels: dict[str, str], findings: Findings
) -> None:
    """Warn when the asset's modalities leave out one the instrument or acquisition has."""
    if description is None:
        return
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
                files=(labels.get("data_description", "data_description.json"), label),
                location="modalities",
                value=missing,
                hint="Add them to data_description_settings.modalities if the asset holds that data.",
            )


def check_metadata(core: dict[str, Any], name: str, location: str, labels: dict[str, str], findings: Findings) -> Any:
    """Run Metadata's own cross-file validators once each; return the constructed Metadata."""
    metadata_cls = models.metadata_class()
    metadata = metadata_cls.model_construct(name=name, location=location, **core)
    validators = metadata_cls.__pydantic_decorators__.model_validators
    files = tuple(labels[k] for k in core if k in labels)
    with capture(findings, files, "validating the whole asset"):
        for validator_name, decorator in validators.items():
            if decorator.info.mode != "after" or validator_name in REPLACED_VALIDATORS:
                continue
            try:
                decorator.func(metadata)
            except (ValueError, AttributeError, TypeError) as exc:
                findings.error(
                    f"gather.metadata.{validator_name.removeprefix('validate_')}",
                    f"The asset as a whole is invalid: {exc}",
                    files=files,
                    hint="aind-data-schema's Metadata check; the message names the field.",
                )
    return metadata
