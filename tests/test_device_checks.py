"""The job's device checks flag exactly what aind-data-schema's would, and say more about it.

They replace `InstrumentAcquisitionCompatibility` and Metadata's three device validators (so none of
those runs twice); this pins that nothing the library would catch slips through.
"""

from __future__ import annotations

from typing import Any

import pytest

from gather_job.findings import Findings
from gather_job.pipeline.devices import check_devices
from tests.fixtures import assets

VARIANTS = [
    "valid",
    "unknown_active_device",
    "unknown_stimulus_device",
    "mismatched_instrument_id",
    "three_instruments",
]


def merged(variant: str) -> tuple[Any, Any, list[tuple[str, Any]], list[tuple[str, Any]]]:
    files = assets.asset_files(variant)
    instruments = [(n, m) for n, m in sorted(files.items()) if n.startswith("instrument")]
    acquisitions = [(n, m) for n, m in sorted(files.items()) if n.startswith("acquisition")]
    instrument = instruments[0][1]
    for _, part in instruments[1:]:
        instrument = instrument + part
    instrument.instrument_id = "_".join(sorted(m.instrument_id for _, m in instruments))
    acquisition = acquisitions[0][1]
    for _, part in acquisitions[1:]:
        acquisition = acquisition + part
    acquisition.instrument_id = "_".join(sorted({m.instrument_id for _, m in acquisitions}))
    return instrument, acquisition, instruments, acquisitions


def ours(variant: str, with_procedures: bool) -> Findings:
    instrument, acquisition, instruments, acquisitions = merged(variant)
    findings = Findings()
    procedures = assets.procedures() if with_procedures else None
    check_devices(instrument, acquisition, procedures, {}, acquisitions, instruments, findings)
    return findings


def library_raises(call: Any) -> bool:
    try:
        call()
    except ValueError:
        return True
    return False


@pytest.mark.parametrize("variant", VARIANTS)
def test_same_verdict_as_the_compatibility_check(variant: str) -> None:
    from aind_data_schema.utils.compatibility_check import InstrumentAcquisitionCompatibility

    instrument, acquisition, _, _ = merged(variant)
    check = InstrumentAcquisitionCompatibility(instrument, acquisition)
    library = library_raises(lambda: check.run_compatibility_check(raise_for_missing_devices=True))
    assert ours(variant, with_procedures=False).has_errors == library


@pytest.mark.parametrize("variant", VARIANTS)
def test_same_verdict_as_metadatas_device_validators(variant: str) -> None:
    from aind_data_schema.core.metadata import Metadata

    instrument, acquisition, _, _ = merged(variant)
    metadata = Metadata.model_construct(
        name="x", location="x", instrument=instrument, acquisition=acquisition, procedures=assets.procedures()
    )
    library = any(
        library_raises(lambda f=f: f(metadata))  # type: ignore[misc]
        for f in (
            Metadata.validate_instrument_acquisition_compatibility,
            Metadata.validate_acquisition_active_devices,
            Metadata.validate_acquisition_connections,
        )
    )
    assert ours(variant, with_procedures=True).has_errors == library


def test_every_missing_device_is_reported_with_a_suggestion() -> None:
    instrument, acquisition, instruments, acquisitions = merged("valid")
    stream = acquisition.data_streams[0]
    acquisitions[0][1].data_streams[0].active_devices = [*stream.active_devices, "Harp Clok", "Nothing Alike"]
    findings = Findings()
    check_devices(instrument, acquisition, assets.procedures(), {}, acquisitions, instruments, findings)
    missing = [f for f in findings if f.id == "gather.compat.unknown_active_device"]
    assert [f.value for f in missing] == ["Harp Clok", "Nothing Alike"]
    assert "Did you mean 'Harp Clock' (instrument_a.json)" in (missing[0].hint or "")
    assert missing[0].files == ("acquisition_a.json",)


@pytest.mark.parametrize("all_external", [False, True])
def test_an_external_stream_beside_an_instrument_is_the_librarys_crash_said_as_a_warning(all_external: bool) -> None:
    """aind-data-schema 2.9.2's compatibility check reads `active_devices` of an ExternalDataStream and
    raises AttributeError: a reader building Metadata from such an asset fails. Pinned against the
    library: when it stops crashing, this test says the warning can go."""
    from aind_data_schema.core.acquisition import ExternalDataStream
    from aind_data_schema.utils.compatibility_check import InstrumentAcquisitionCompatibility
    from aind_data_schema_models.modalities import Modality

    instrument, acquisition, instruments, acquisitions = merged("valid")
    external = ExternalDataStream(
        stream_start_time=acquisition.acquisition_start_time,
        stream_end_time=acquisition.acquisition_end_time,
        modalities=[Modality.BEHAVIOR],
    )
    streams = [external] if all_external else [*acquisition.data_streams, external]
    with_external = acquisition.model_copy(update={"data_streams": streams})
    with pytest.raises(AttributeError, match="active_devices"):
        InstrumentAcquisitionCompatibility(instrument, with_external).run_compatibility_check()
    findings = Findings()
    check_devices(instrument, with_external, assets.procedures(), {}, acquisitions, instruments, findings)
    (crash,) = [f for f in findings if f.id == "gather.metadata.library_crash"]
    assert crash.location == f"data_streams[{len(streams) - 1}]"
    assert ("needs no instrument" in (crash.hint or "")) is all_external
    assert not [f for f in ours("valid", True) if f.id == "gather.metadata.library_crash"]


def test_an_id_two_instrument_parts_share_names_both_files() -> None:
    instrument, acquisition, instruments, acquisitions = merged("valid")
    shared = [(label, model.model_copy(update={"instrument_id": "BEH-7"})) for label, model in instruments]
    findings = Findings()
    check_devices(
        instrument.model_copy(update={"instrument_id": "BEH-7"}),
        acquisition,
        assets.procedures(),
        {},
        acquisitions,
        shared,
        findings,
    )
    (mismatch,) = [f for f in findings if f.id == "gather.compat.instrument_id_mismatch"]
    assert f"'BEH-7' ({shared[0][0]}, {shared[1][0]})" in (mismatch.hint or "")
