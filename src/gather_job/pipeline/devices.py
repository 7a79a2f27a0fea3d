"""Do the devices an acquisition names exist? (docs/design.md §7, check 3.)

This replaces both `InstrumentAcquisitionCompatibility` and Metadata's three device validators:
the same ground (tests/test_device_checks.py pins the same verdict on every fixture), but every
missing device is reported, located in the acquisition part that names it, with the closest
existing names and the file each of those lives in. Names are looked up in sets built once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from gather_job.findings import Findings, Severity
from gather_job.pipeline.documents import Part, device_names
from gather_job.suggest import closest


def _owners(parts: Sequence[Part]) -> dict[str, str]:
    """Device name -> the instrument part that defines it (the first one, as the merge keeps)."""
    owners: dict[str, str] = {}
    for label, model in parts:
        for name in device_names(model):
            owners.setdefault(name, label)
    return owners


def _suggest(name: str, candidates: Mapping[str, str], where: str) -> str:
    near = closest(name, candidates)
    if near:
        listed = " or ".join(f"{n!r} ({candidates[n]})" for n in near)
        return f"Did you mean {listed}? Otherwise add '{name}' to {where}."
    return f"Add a device named '{name}' to {where}, or remove it from the acquisition."


def check_devices(
    instrument: Any,
    acquisition: Any,
    procedures: Any,
    labels: dict[str, str],
    acquisition_parts: Sequence[Part],
    instrument_parts: Sequence[Part],
    findings: Findings,
    *,
    procedures_unseen: bool = False,
    instrument_unseen: bool = False,
    instrument_id: str | None = None,
) -> None:
    """Every device an acquisition part names exists; acquisition and instrument agree on the id.

    The parts are checked (not the merged acquisition) so each finding points at the file and the
    place to edit; the merge only unions their device names.
    """
    from aind_data_schema.core.acquisition import DataStream

    acq_label = labels.get("acquisition", "acquisition.json")
    inst_label = labels.get("instrument", "instrument.json")
    if instrument is None:
        # an instrument the service gives at upload, not asked for at a desk offline: nothing to say here
        if not instrument_unseen and any(isinstance(s, DataStream) for s in acquisition.data_streams):
            findings.error(
                "gather.compat.no_instrument",
                f"{acq_label} has data streams but the asset has no instrument.",
                files=(acq_label,),
                location="data_streams",
                hint=(
                    f"instrument_settings.instrument_id is {instrument_id!r}, but no instrument came from the "
                    "metadata service (offline, or not found: see above). Run with the service, or add "
                    "instrument*.json to the folder."
                    if instrument_id
                    else "Add instrument*.json to the folder or set instrument_settings.instrument_id."
                ),
            )
        return
    _library_crash(acquisition, acq_label, DataStream, findings)
    # part of the instrument is the service's, unseen offline: the merged id and its devices are not known here
    if acquisition.instrument_id != instrument.instrument_id and not instrument_unseen:
        _instrument_id_mismatch(
            acquisition, instrument, acq_label, inst_label, acquisition_parts, instrument_parts, findings
        )
    # a merged instrument's devices are its parts' devices (fold.py), so they are not walked again
    in_instrument = {**_owners(instrument_parts), instrument.instrument_id: inst_label}
    procedures_label = labels.get("procedures", "procedures.json")
    implanted = dict.fromkeys(procedures.get_device_names(), procedures_label) if procedures is not None else {}
    anywhere = {**implanted, **in_instrument}
    where_all = f"{inst_label} (components) or to an implanted_device in procedures.json"
    severity = Severity.warning if procedures_unseen or instrument_unseen else Severity.error
    from_service = [
        what
        for what, unseen_here in (
            (f"a component of instrument {instrument_id!r}", instrument_unseen),
            ("an implanted device in the service's procedures", procedures_unseen),
        )
        if unseen_here
    ]
    unseen = (
        f" seen here: unless it is {' or '.join(from_service)} (not seen offline), the upload will fail on it"
        if from_service
        else ""
    )
    for label, part in acquisition_parts:
        for kind, what, location, device in _named_devices(part, DataStream):
            stimulus = kind == "unknown_stimulus_device"  # stimulus devices must be the instrument's own
            known = in_instrument if stimulus else anywhere
            if device in known:
                continue
            findings.add(
                f"gather.compat.{kind}",
                Severity.error if stimulus and not instrument_unseen else severity,
                f"{what} {device!r} is "
                + (
                    f"not a component of the instrument{unseen if instrument_unseen else ''}."
                    if stimulus
                    else f"in no instrument and no procedure{unseen}."
                ),
                files=(label,),
                location=location,
                value=device,
                hint=_suggest(device, known, f"{inst_label} (components)" if stimulus else where_all),
            )


def _library_crash(acquisition: Any, label: str, data_stream: Any, findings: Findings) -> None:
    """aind-data-schema's own instrument/acquisition check reads `active_devices` of every data stream, and
    an ExternalDataStream has none: `Metadata(...)` of such an asset with an instrument raises
    AttributeError (2.9.2). gather-job checks the devices itself; the reader who builds Metadata is told."""
    external = [i for i, stream in enumerate(acquisition.data_streams) if not isinstance(stream, data_stream)]
    if not external:
        return
    all_external = len(external) == len(acquisition.data_streams)
    findings.warning(
        "gather.metadata.library_crash",
        "aind-data-schema's own Metadata check fails on this asset (AttributeError in "
        "validate_instrument_acquisition_compatibility): it reads active_devices of every data stream, and "
        f"the external data stream at data_streams[{external[0]}] has none. gather-job checked the devices "
        "itself, but any tool that builds aind-data-schema's Metadata from this asset will fail on it.",
        files=(label,),
        location=f"data_streams[{external[0]}]",
        hint=(
            "Every stream is external, so the asset needs no instrument: leaving instrument.json out avoids it."
            if all_external
            else "Nothing in the metadata is wrong; the fault is aind-data-schema's (external streams beside an "
            "instrument)."
        ),
    )


def _named_devices(part: Any, data_stream: Any) -> Iterator[tuple[str, str, str, str]]:
    """(finding kind, what names it, JSON location, device) for every device name an acquisition uses."""
    for i, stream in enumerate(part.data_streams):
        if not isinstance(stream, data_stream):
            continue  # an ExternalDataStream names no devices (the library's check crashes on it)
        for j, device in enumerate(stream.active_devices):
            yield "unknown_active_device", "active device", f"data_streams[{i}].active_devices[{j}]", device
        for j, connection in enumerate(stream.connections):
            for end in ("source_device", "target_device"):
                location = f"data_streams[{i}].connections[{j}].{end}"
                yield "unknown_connection_device", f"connection {end}", location, getattr(connection, end)
    for i, epoch in enumerate(part.stimulus_epochs):
        for j, device in enumerate(epoch.active_devices):
            yield "unknown_stimulus_device", "stimulus device", f"stimulus_epochs[{i}].active_devices[{j}]", device


def _instrument_id_mismatch(
    acquisition: Any,
    instrument: Any,
    acq_label: str,
    inst_label: str,
    acquisition_parts: Sequence[Part],
    instrument_parts: Sequence[Part],
    findings: Findings,
) -> None:
    """Say which acquisition file names an id that no instrument part has, and what it should be."""
    part_ids: dict[str, str] = {}  # id -> the files that have it (two parts may share one)
    for label, model in instrument_parts:
        part_ids[model.instrument_id] = (
            f"{part_ids[model.instrument_id]}, {label}" if model.instrument_id in part_ids else label
        )
    culprits = [(label, m.instrument_id) for label, m in acquisition_parts if m.instrument_id not in part_ids]
    hint = f"The acquisition must name the instrument it used: {instrument.instrument_id!r}"
    if len(instrument_parts) > 1:
        hint += " (the instrument files' ids sorted and joined by '_')"
    if culprits:
        listed = ", ".join(f"{label} says {value!r}" for label, value in culprits)
        known = ", ".join(f"{i!r} ({label})" for i, label in sorted(part_ids.items()))
        hint += f". {listed}; the instrument files have {known}"
        near = closest(str(culprits[0][1]), part_ids) if len(culprits) == 1 else []
        if near:
            hint += f": did you mean {near[0]!r}?"
    findings.error(
        "gather.compat.instrument_id_mismatch",
        f"acquisition instrument_id {acquisition.instrument_id!r} != merged instrument {instrument.instrument_id!r}.",
        files=tuple(label for label, _ in culprits) or (acq_label, inst_label),
        location="instrument_id",
        value=acquisition.instrument_id,
        hint=hint if hint.endswith(("?", ".")) else hint + ".",
    )
