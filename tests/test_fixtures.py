"""The fixtures in tests/fixtures/assets/ are what they claim: the valid set is valid and merges as
described, and each broken variant is broken in exactly the stated way (checked with the library)."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

with warnings.catch_warnings():
    # aind-data-schema warns once at import (DEPTH axes of its coordinate-system constants; pydantic's
    # Field extras). The warnings are attributed to pydantic.*, so pyproject's ignores do not cover them.
    warnings.simplefilter("ignore", DeprecationWarning)
    from aind_data_schema.components.devices import HarpDevice
    from aind_data_schema.components.identifiers import Person
    from aind_data_schema.core.acquisition import Acquisition
    from aind_data_schema.core.data_description import Funding
    from aind_data_schema.core.instrument import Instrument
    from aind_data_schema.core.metadata import Metadata
    from aind_data_schema.core.subject import Subject
    from aind_data_schema.utils.compatibility_check import InstrumentAcquisitionCompatibility

    from tests.fixtures import assets as fx

ROOT = Path(__file__).resolve().parent.parent
BASE_FILES = {"instrument_a.json", "instrument_b.json", "acquisition_a.json", "acquisition_b.json"}


def load(folder: Path) -> dict[str, Any]:
    """The folder's files read back with the library's models (stem -> model)."""
    kinds = {"instrument": Instrument, "acquisition": Acquisition, "subject": Subject}
    out: dict[str, Any] = {}
    for path in sorted(folder.glob("*.json")):
        kind = kinds.get(path.stem.split("_")[0])
        if kind is not None:
            out[path.stem] = kind.model_validate_json(path.read_text())
    return out


def merged(folder: Path) -> tuple[Instrument, Acquisition]:
    """Fold the instrument and acquisition parts in file-name order, as the library's `+` does."""
    models = load(folder)
    inst = [m for k, m in models.items() if k.startswith("instrument")]
    acq = [m for k, m in models.items() if k.startswith("acquisition")]
    total_inst, total_acq = inst[0], acq[0]
    for part in inst[1:]:
        total_inst = total_inst + part
    for part in acq[1:]:
        total_acq = total_acq + part
    return total_inst, total_acq


def metadata(inst: Instrument, acq: Acquisition) -> Metadata:
    return Metadata(
        name=fx.ASSET_NAME,
        location="s3://x",
        subject=fx.subject(),
        procedures=fx.procedures(),
        instrument=inst,
        acquisition=acq,
        data_description=fx.data_description(),
    )


def names(instrument: Instrument) -> list[str]:
    return [c.name for c in instrument.components]


def test_valid_set_merges_validates_and_warns_nothing() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        inst = fx.instrument_a() + fx.instrument_b()
        acq = fx.acquisition_a() + fx.acquisition_b()
        InstrumentAcquisitionCompatibility(inst, acq).run_compatibility_check(raise_for_missing_devices=False)
        md = metadata(inst, acq)
        qc = fx.quality_control_a() + fx.quality_control_b()
    assert [str(w.message) for w in caught] == []
    assert inst.instrument_id == acq.instrument_id == fx.MERGED_INSTRUMENT_ID == "CAM-1_NP-RIG.2"
    assert len(acq.data_streams) == 1
    assert acq.acquisition_start_time == fx.ACQUISITION_START  # acquisition_a's start
    assert acq.acquisition_end_time == fx.ACQUISITION_END
    assert acq.acquisition_start_tz == -7  # fixed offsets are stored as whole hours
    assert md.data_description is not None and md.data_description.name == fx.ASSET_NAME
    assert f"{fx.SUBJECT_ID}_{fx.ACQUISITION_START:%Y-%m-%d_%H-%M-%S}" == fx.ASSET_NAME
    assert qc.default_grouping == ["modality", ("probe", "video")]


def test_library_drops_what_the_job_must_restore() -> None:
    a, b = fx.acquisition_a(), fx.acquisition_b()
    assert a.data_streams[0].code and b.data_streams[0].code and a.manipulations
    acq = a + b
    assert acq.data_streams[0].code is None  # fused streams lose `code`
    assert acq.manipulations == []  # Acquisition + drops manipulations
    assert acq.subject_details == a.subject_details


def test_instruments_share_only_the_clock() -> None:
    a, b = fx.instrument_a(), fx.instrument_b()
    assert (a.location, a.global_coordinate_system, a.temperature_control) == (
        b.location,
        b.global_coordinate_system,
        b.temperature_control,
    )
    assert set(names(a)) & set(names(b)) == {fx.CLOCK_NAME}
    clocks = [next(c for c in i.components if c.name == fx.CLOCK_NAME) for i in (a, b)]
    assert clocks[0] == clocks[1] and isinstance(clocks[0], HarpDevice) and clocks[0].is_clock_generator
    for inst in (a, b):
        assert 5 <= len(inst.components) <= 10
        own = set(inst.get_component_names())
        assert inst.connections and all({c.source_device, c.target_device} <= own for c in inst.connections)
    assert names(a + b).count(fx.CLOCK_NAME) == 1
    assert sorted([a.instrument_id, b.instrument_id]) != [a.instrument_id, b.instrument_id]  # vs file order


def test_acquisitions_fit_together() -> None:
    a, b = fx.acquisition_a(), fx.acquisition_b()
    assert a.subject_id == b.subject_id == fx.SUBJECT_ID and a.acquisition_type == b.acquisition_type
    assert a.specimen_id is None and b.specimen_id is None
    assert a.subject_details is not None and b.subject_details is None
    assert (a.instrument_id, b.instrument_id) == (fx.INSTRUMENT_A_ID, fx.INSTRUMENT_B_ID)
    (sa,), (sb,) = a.data_streams, b.data_streams
    assert abs((sa.stream_start_time - sb.stream_start_time).total_seconds()) <= 120
    assert abs((sa.stream_end_time - sb.stream_end_time).total_seconds()) <= 120
    assert b.acquisition_start_time > a.acquisition_start_time
    for acq, inst in ((a, fx.instrument_a()), (b, fx.instrument_b())):
        own = set(inst.get_component_names())
        (stream,), (epoch,) = acq.data_streams, acq.stimulus_epochs
        assert set(stream.active_devices) - own <= {fx.IMPLANT_NAME} and set(epoch.active_devices) <= own
        start, end = acq.acquisition_start_time, acq.acquisition_end_time
        assert start <= stream.stream_start_time <= stream.stream_end_time <= end
        assert start <= epoch.stimulus_start_time <= epoch.stimulus_end_time <= end
    assert fx.IMPLANT_NAME in sa.active_devices
    assert fx.procedures().get_device_names() == [fx.IMPLANT_NAME]
    assert fx.subject().subject_id == fx.procedures().subject_id == fx.SUBJECT_ID


def test_funding_and_investigators_are_json_models() -> None:
    assert [Funding.model_validate(f) for f in fx.funding()]
    assert [Person.model_validate(p) for p in fx.investigators()]
    assert json.loads(json.dumps(fx.funding())) == fx.funding()


def test_service_routes() -> None:
    routes = fx.service_routes()
    assert set(routes) == {
        "/api/v2/subject/123456",
        "/api/v2/procedures/123456",
        "/api/v2/funding/Test project",
        "/api/v2/investigators/Test project",
        f"/api/v2/instrument/{fx.INSTRUMENT_B_ID}",
        "/api/v2/dataverse/mouse_weight_records/123456",
        "/api/v2/labtracks/subject",
    }
    json.dumps([body for _, body, _ in routes.values()])  # JSON-ready
    weighings = routes["/api/v2/dataverse/mouse_weight_records/123456"][1]
    assert [w["weight_datetime"] for w in weighings] == ["2024-03-05T20:05:00Z", "2024-03-05T22:40:00Z"]
    assert all(len(w) == 11 for w in weighings)  # every field of the service's MouseWeightData
    assert routes["/api/v2/labtracks/subject"][1][0]["protocol_number"] == fx.PROTOCOL
    assert Subject.model_validate(routes["/api/v2/subject/123456"][1]).subject_id == fx.SUBJECT_ID
    status, records, headers = routes[f"/api/v2/instrument/{fx.INSTRUMENT_B_ID}"]
    assert status == 400 and headers == {"X-Error-Message": "Models have not been validated."}
    exact = [r for r in records if r["instrument_id"] == fx.INSTRUMENT_B_ID]
    assert len(exact) == 2 and len({r["modification_date"] for r in exact}) == 2
    others = [r for r in records if r["instrument_id"] != fx.INSTRUMENT_B_ID]
    assert len(others) == 1 and others[0]["instrument_id"].startswith(fx.INSTRUMENT_B_ID)
    newest = max(exact, key=lambda r: r["modification_date"])
    assert newest == fx.instrument_b().model_dump(mode="json")
    assert all(Instrument.model_validate(r) for r in records)
    assert "/api/v2/subject/42" in fx.service_routes(subject_id="42")


@pytest.mark.parametrize("variant", list(fx.VARIANTS))
def test_write_asset_file_names(tmp_path: Path, variant: str) -> None:
    folder = fx.write_asset(tmp_path / variant, variant)
    expected = set(BASE_FILES)
    if variant == "three_instruments":
        expected |= {"instrument_c.json", "acquisition_c.json"}
    if variant == "mismatched_subject_file":
        expected.add("subject.json")
    assert {p.name for p in folder.iterdir()} == expected


def test_write_asset_optional_files_round_trip(tmp_path: Path) -> None:
    folder = fx.write_asset(tmp_path, with_subject=True, with_procedures=True, with_data_description=True)
    assert {p.name for p in folder.iterdir()} == BASE_FILES | {
        "subject.json",
        "procedures.json",
        "data_description.json",
    }
    assert (folder / "instrument_a.json").read_text() == fx.instrument_a().model_dump_json(indent=3)
    models = load(folder)
    assert models["acquisition_a"] == fx.acquisition_a() and models["instrument_b"] == fx.instrument_b()
    inst, acq = merged(folder)
    metadata(inst, acq)


def test_main_writes_every_variant(tmp_path: Path) -> None:
    assert fx._main([str(tmp_path)]) == 0
    assert {p.name for p in tmp_path.iterdir()} == set(fx.VARIANTS)
    with pytest.raises(ValueError, match="unknown variant"):
        fx.asset_files("nope")


def test_shared_device(tmp_path: Path) -> None:
    models = load(fx.write_asset(tmp_path, "shared_device"))
    a, b = models["instrument_a"], models["instrument_b"]
    assert set(names(a)) & set(names(b)) == {fx.CLOCK_NAME, fx.SHARED_DEVICE_NAME}
    shared = [c for c in (a + b).components if c.name == fx.SHARED_DEVICE_NAME]
    assert len(shared) == 1 and shared[0].notes is None  # instrument_b's copy is silently dropped


def test_mismatched_subject_acquisition(tmp_path: Path) -> None:
    models = load(fx.write_asset(tmp_path, "mismatched_subject_acquisition"))
    assert models["acquisition_b"].subject_id == fx.WRONG_SUBJECT_ID
    with pytest.raises(ValueError, match="subject_id"):
        models["acquisition_a"] + models["acquisition_b"]


def test_unknown_active_device(tmp_path: Path) -> None:
    inst, acq = merged(fx.write_asset(tmp_path, "unknown_active_device"))
    with pytest.raises(ValueError, match=fx.MISSING_ACTIVE_DEVICE):
        metadata(inst, acq)
    check = InstrumentAcquisitionCompatibility(inst, acq)
    with pytest.raises(ValueError, match=fx.MISSING_ACTIVE_DEVICE):
        check.run_compatibility_check(raise_for_missing_devices=True)


def test_unknown_stimulus_device(tmp_path: Path) -> None:
    inst, acq = merged(fx.write_asset(tmp_path, "unknown_stimulus_device"))
    with pytest.raises(ValueError, match=fx.MISSING_STIMULUS_DEVICE):
        InstrumentAcquisitionCompatibility(inst, acq).run_compatibility_check()


def test_mismatched_instrument_id(tmp_path: Path) -> None:
    inst, acq = merged(fx.write_asset(tmp_path, "mismatched_instrument_id"))
    assert inst.instrument_id == fx.MERGED_INSTRUMENT_ID
    assert acq.instrument_id == f"{fx.WRONG_INSTRUMENT_ID}_{fx.INSTRUMENT_A_ID}" != fx.MERGED_INSTRUMENT_ID
    with pytest.raises(ValueError, match="does not match"):
        InstrumentAcquisitionCompatibility(inst, acq).run_compatibility_check()


def test_mismatched_subject_file(tmp_path: Path) -> None:
    models = load(fx.write_asset(tmp_path, "mismatched_subject_file"))
    assert models["subject"].subject_id == fx.WRONG_SUBJECT_ID != models["acquisition_a"].subject_id


def test_instrument_location_mismatch(tmp_path: Path) -> None:
    models = load(fx.write_asset(tmp_path, "instrument_location_mismatch"))
    with pytest.raises(ValueError, match="location"):
        models["instrument_a"] + models["instrument_b"]


def test_subject_details_twice(tmp_path: Path) -> None:
    models = load(fx.write_asset(tmp_path, "subject_details_twice"))
    with pytest.raises(ValueError, match="SubjectDetails"):
        models["acquisition_a"] + models["acquisition_b"]


def test_three_instruments_fold_order(tmp_path: Path) -> None:
    folder = fx.write_asset(tmp_path, "three_instruments")
    inst, acq = merged(folder)
    assert inst.instrument_id == acq.instrument_id == fx.THREE_FOLDED_ID != fx.THREE_SORTED_ID
    assert len(acq.data_streams) == 1 and names(inst).count(fx.CLOCK_NAME) == 1
    InstrumentAcquisitionCompatibility(inst, acq).run_compatibility_check()
    metadata(inst, acq)
    models = load(folder)
    other_order = models["instrument_a"] + models["instrument_c"] + models["instrument_b"]
    assert other_order.instrument_id == fx.THREE_SORTED_ID  # same parts, other fold order, other id


def test_invalid_instrument_schema(tmp_path: Path) -> None:
    folder = fx.write_asset(tmp_path, "invalid_instrument_schema")
    with pytest.raises(ValidationError, match="diameter"):
        Instrument.model_validate_json((folder / "instrument_a.json").read_text())
    Instrument.model_validate_json((folder / "instrument_b.json").read_text())


def test_malformed_json(tmp_path: Path) -> None:
    text = (fx.write_asset(tmp_path, "malformed_json") / "acquisition_b.json").read_text()
    assert 0 < len(text) < len(fx.acquisition_b().model_dump_json(indent=3))
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


@pytest.mark.slow
def test_example_asset_is_current() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "build_example.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    settings = json.loads((ROOT / "job_settings.example.json").read_text())
    assert settings["metadata_dir"] == "examples/asset" and settings["offline"] is True
