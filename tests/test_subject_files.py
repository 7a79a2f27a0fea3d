"""subject.json and procedures.json beyond "the file, else the service": calibration uploads, and a
subject the service cannot give because LabTracks has several records for its id."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures import assets
from tests.support.fake_service import FakeMetadataService, Fault, Route

CALIBRATION_START = "2024-03-05T14:23:00-07:00"  # acquisition_b's


def _calibration_folder(folder: Path) -> Path:
    """The video part alone, of a calibration session (no implant, so no procedures are needed)."""
    (folder / "acquisition_a.json").unlink()
    (folder / "instrument_a.json").unlink()
    data = json.loads((folder / "acquisition_b.json").read_text())
    data["subject_id"] = "calibration"
    data["subject_details"] = {"mouse_platform_name": "Calibration stage"}
    (folder / "acquisition_b.json").write_text(json.dumps(data, indent=3))
    return folder


def _run(gather: Any, folder: Path, service: FakeMetadataService, **overrides: Any) -> Any:
    return gather(
        folder,
        service_url=service.url,
        subject_id="calibration",
        acquisition_start_time=CALIBRATION_START,
        **overrides,
    )


def test_a_calibration_builds_its_subject_and_empty_procedures(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    run = _run(gather, _calibration_folder(asset()), service)
    assert run.code == 0, run.err
    subject = run.file("subject.json")
    assert subject["subject_id"] == "calibration"
    assert subject["subject_details"] == {
        "object_type": "Calibration object",
        "empty": True,
        "description": "",
        "objects": None,
    }
    procedures = run.file("procedures.json")
    assert procedures["subject_procedures"] == [] and procedures["specimen_procedures"] == []
    description = run.file("data_description.json")
    assert description["name"] == "calibration_2024-03-05_14-23-00" and "calibration" in description["tags"]
    asked = {r.path for r in service.requests}
    assert not any(p.startswith(("/api/v2/subject/", "/api/v2/procedures/")) for p in asked)
    assert not any("mouse_weight_records" in p or "labtracks" in p for p in asked)  # not enriched
    sources = run.report()["sources"]
    assert sources["subject.json"] == sources["procedures.json"] == {"built_from": "calibration upload's settings"}
    assert "gather.enrichment.skipped" in run.ids("info")


def test_the_calibration_object_comes_from_subject_settings(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    target = {"description": "Grid target, 10 um pitch", "empty": False}
    run = _run(gather, _calibration_folder(asset()), service, subject_settings={"calibration_object": target})
    assert run.code == 0, run.err
    details = run.file("subject.json")["subject_details"]
    assert details["description"] == "Grid target, 10 um pitch" and details["empty"] is False


def test_an_invalid_calibration_object_names_the_setting(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    run = _run(gather, _calibration_folder(asset()), service, subject_settings={"calibration_object": {"empty": 1}})
    assert run.code == 3
    errors = [f for f in run.report()["findings"] if f["id"] == "gather.schema.invalid"]
    assert errors and errors[0]["location"] == "subject_settings.calibration_object.description"


def test_a_calibration_replaces_folder_subject_files_and_says_so(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    folder = _calibration_folder(asset(with_subject=True))
    run = _run(gather, folder, service)
    assert run.code == 0, run.err
    assert run.file("subject.json")["subject_id"] == "calibration"
    assert "gather.calibration.replaced" in run.ids("warning")


# -- a subject 500 ---------------------------------------------------------------------------------

SUBJECT = f"/api/v2/subject/{assets.SUBJECT_ID}"


def test_several_labtracks_records_are_a_finding_about_the_data(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    service.add(SUBJECT, Route(500, raw=b"Internal Server Error", content_type="text/plain"))
    twins = [assets.labtracks_record(), {**assets.labtracks_record(), "birth_date": "2023-10-02T00:00:00"}]
    service.add("/api/v2/labtracks/subject", Route(200, twins))
    run = gather(asset(), service_url=service.url)
    assert run.code == 3, run.err
    found = [f for f in run.report()["findings"] if f["id"] == "gather.service.ambiguous_subject"]
    assert found and "LabTracks has 2 records" in found[0]["message"] and "2023-10-02" in found[0]["message"]
    assert "retry the job later" not in " ".join(run.err.split())
    assert "gather.resolve.missing" not in run.ids()


@pytest.mark.parametrize("labtracks", ["one record", "down"])
def test_a_subject_500_otherwise_is_an_outage(gather, asset, service, labtracks: str) -> None:  # type: ignore[no-untyped-def]
    service.add(SUBJECT, Route(500, raw=b"Internal Server Error", content_type="text/plain"))
    if labtracks == "down":
        service.inject("/api/v2/labtracks/subject", Fault("status", status=503, times=10))
    run = gather(asset(), service_url=service.url)
    assert run.code == 4
    assert "retry the job later" in " ".join(run.err.split())
