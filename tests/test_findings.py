"""Each kind of problem becomes a finding with a stable id, the file, the location and a hint."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.fixtures import assets
from tests.support.fake_service import FakeMetadataService, Route

# variant -> (finding id, file it names, location, text the hint must contain)
BROKEN: dict[str, tuple[str, str, str | None, str]] = {
    "shared_device": ("gather.merge.shared_device", "instrument_a.json", "components", "HarpDevice"),
    "mismatched_subject_acquisition": (  # once, in the file that differs, with every place
        "gather.subject_id.mismatch",
        "acquisition_b.json",
        "subject_id",
        "Every place",
    ),
    "unknown_active_device": (
        "gather.compat.unknown_active_device",
        "acquisition_a.json",
        "data_streams[0].active_devices[",
        "instrument.json (merged)",
    ),
    "unknown_stimulus_device": (
        "gather.compat.unknown_stimulus_device",
        "acquisition_b.json",
        "stimulus_epochs[0].active_devices[",
        "Add a device named",
    ),
    "mismatched_instrument_id": (
        "gather.compat.instrument_id_mismatch",
        "acquisition_b.json",
        "instrument_id",
        assets.MERGED_INSTRUMENT_ID,
    ),
    "mismatched_subject_file": ("gather.subject_id.mismatch", "subject.json", "subject_id", assets.SUBJECT_ID),
    "instrument_location_mismatch": (
        "gather.merge.instrument_mismatch",
        "instrument_a.json",
        "location",
        "same location",
    ),
    "subject_details_twice": (
        "gather.merge.subject_details_twice",
        "acquisition_a.json",
        "subject_details",
        "one acquisition",
    ),
    "invalid_instrument_schema": ("gather.schema.invalid", "instrument_a.json", "components[", "diameter"),
    "malformed_json": ("gather.file.invalid_json", "acquisition_b.json", "line ", "truncated"),
}


def finding(run: Any, id: str) -> dict[str, Any]:
    return next(f for f in run.report()["findings"] if f["id"] == id)


@pytest.mark.parametrize("variant", sorted(BROKEN))
def test_each_broken_variant_exits_3_with_its_finding(gather, asset, service, variant: str) -> None:  # type: ignore[no-untyped-def]
    id, file, location, hint = BROKEN[variant]
    run = gather(asset(variant), service_url=service.url)
    assert run.code == 3, run.err
    assert run.written() == ["gather_report.json"]
    found = finding(run, id)
    assert found["severity"] == "error"
    assert file in found["files"]
    assert location is None or (found["location"] or "").startswith(location)
    assert hint in (found["hint"] or "") + found["message"]
    assert id in run.err  # the same finding on stderr


def test_a_failed_merge_does_not_also_blame_the_settings_for_who_and_when(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    """The parts say subject_id and the start even when their merge fails: one problem, one finding."""
    run = gather(asset("subject_details_twice"), service_url=service.url, subject_id=None, acquisition_start_time=None)
    assert run.code == 3
    assert "gather.merge.subject_details_twice" in run.ids("error")
    assert "gather.data_description.missing_settings" not in run.ids()


def test_three_instruments_get_the_sorted_id_not_the_pairwise_one(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    run = gather(asset("three_instruments"), service_url=service.url)
    assert run.code == 0, run.err
    assert run.file("instrument.json")["instrument_id"] == assets.THREE_SORTED_ID
    assert run.file("acquisition.json")["instrument_id"] == assets.THREE_SORTED_ID
    assert "gather.merge.instrument_id_reordered" in run.ids("info")


def test_a_shared_harp_clock_is_allowed(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    run = gather(asset(), service_url=service.url)
    assert finding(run, "gather.merge.shared_clock")["severity"] == "info"


def test_start_time_mismatch_shows_both_values(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    run = gather(asset(), service_url=service.url, acquisition_start_time="2024-03-05T14:25:00-07:00")
    assert run.code == 3
    found = finding(run, "gather.time.mismatch")
    assert "2024-03-05T14:25:00-07:00" in found["message"] and "2024-03-05T14:20:00-07:00" in found["message"]


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("2024-03-05T14:20:00", True),
        ("2024-03-05T14:20:00.900", True),
        ("2024-03-05T21:20:00", False),
        ("2024-03-05T21:20:00Z", True),
        ("2024-03-05T14:20:02-07:00", False),
    ],
)
def test_naive_times_are_wall_clock_and_one_second_is_tolerated(gather, asset, service, value: str, ok: bool) -> None:  # type: ignore[no-untyped-def]
    run = gather(asset(), service_url=service.url, acquisition_start_time=value)
    assert (run.code == 0) is ok, run.err
    assert ("gather.time.mismatch" in run.ids()) is not ok


def test_settings_subject_id_must_match_the_acquisition(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    run = gather(asset(), service_url=service.url, subject_id="654321")
    assert run.code == 3
    found = finding(run, "gather.subject_id.mismatch")
    assert found["files"] == ["settings"] and "654321" in found["message"]


def test_modalities_not_covered_is_a_warning(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    run = gather(asset(), service_url=service.url, data_description_settings={"modalities": ["behavior"]})
    assert run.code == 0, run.err
    assert "gather.modalities.not_covered" in run.ids("warning")


@pytest.mark.parametrize(("status", "detail"), [(404, "Not found"), (406, "Project has subprojects; use 'P - S'")])
def test_empty_funding_names_the_project_and_what_the_service_said(
    gather, asset, service: FakeMetadataService, status: int, detail: str
) -> None:  # type: ignore[no-untyped-def]
    service.add(f"/api/v2/funding/{assets.PROJECT_NAME}", Route(status, {"detail": detail}))
    run = gather(asset(), service_url=service.url)
    assert run.code == 3
    found = finding(run, "gather.data_description.no_funding")
    assert assets.PROJECT_NAME in found["message"] and str(status) in found["message"] and detail in found["message"]
    assert "funding_source" in found["hint"]
    assert service.count(f"/api/v2/funding/{assets.PROJECT_NAME}") == 1  # never retried


def test_empty_funding_with_raise_false_still_writes(gather, asset, service: FakeMetadataService) -> None:  # type: ignore[no-untyped-def]
    service.add(f"/api/v2/funding/{assets.PROJECT_NAME}", Route(200, []))
    run = gather(asset(), service_url=service.url, raise_if_invalid=False)
    assert run.code == 0
    assert run.file("data_description.json")["name"] == assets.ASSET_NAME
    assert "empty list" in finding(run, "gather.data_description.no_funding")["message"]


def test_subject_unknown_to_the_service(gather, asset, service: FakeMetadataService) -> None:  # type: ignore[no-untyped-def]
    service.add(f"/api/v2/subject/{assets.SUBJECT_ID}", Route(404, {"detail": "Not found"}))
    service.add(f"/api/v2/procedures/{assets.SUBJECT_ID}", Route(404, {"detail": "Not found"}))
    run = gather(asset(), service_url=service.url)
    assert run.code == 3
    severities = {
        f["files"][0]: f["severity"] for f in run.report()["findings"] if f["id"] == "gather.service.not_found"
    }
    assert severities == {"subject.json": "error", "procedures.json": "warning"}


def test_subject_rejected_by_the_service(gather, asset, service: FakeMetadataService) -> None:  # type: ignore[no-untyped-def]
    service.add(f"/api/v2/subject/{assets.SUBJECT_ID}", Route(406, {"detail": "Subject id must be numeric"}))
    run = gather(asset(), service_url=service.url)
    assert run.code == 3 and "must be numeric" in finding(run, "gather.service.rejected")["message"]


def test_a_400_subject_is_used_and_its_problems_reported(gather, asset, service: FakeMetadataService) -> None:  # type: ignore[no-untyped-def]
    body: dict[str, Any] = assets.subject().model_dump(mode="json")
    body["subject_details"]["sex"] = "Unknown-sex"
    service.add(f"/api/v2/subject/{assets.SUBJECT_ID}", Route(400, body, {"X-Error-Message": "Validation errors: sex"}))
    run = gather(asset(), service_url=service.url)
    assert run.code == 3
    assert "Validation errors: sex" in finding(run, "gather.service.unvalidated")["message"]
    assert "subject_details.sex" in finding(run, "gather.schema.invalid")["location"]


def test_wrong_object_type_is_caught_although_the_library_would_coerce_it(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    folder = asset()
    data = json.loads((folder / "instrument_b.json").read_text())
    data["object_type"] = "Acquisition"
    (folder / "instrument_b.json").write_text(json.dumps(data))
    run = gather(folder, service_url=service.url)
    assert run.code == 3
    assert finding(run, "gather.file.wrong_object_type")["files"] == ["instrument_b.json"]


def test_library_warnings_become_findings(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    folder = asset()
    data = json.loads((folder / "acquisition_b.json").read_text())
    data["data_streams"][0]["code"][0]["version"] = None
    (folder / "acquisition_b.json").write_text(json.dumps(data))
    run = gather(folder, service_url=service.url)
    assert run.code == 0
    found = finding(run, "gather.library.warning")
    assert "Neither commit_hash nor version" in found["message"] and found["files"] == ["acquisition_b.json"]


def test_metadata_level_checks_are_findings(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    folder = asset()
    data = json.loads((folder / "acquisition_a.json").read_text())
    data["subject_details"] = None
    (folder / "acquisition_a.json").write_text(json.dumps(data))
    run = gather(folder, service_url=service.url)
    assert run.code == 3
    assert "gather.metadata.subject_details_if_not_specimen" in run.ids("error")


# -- hints that fix things: id, location and hint pinned for each kind ---------------------------------


def _load(kind: str, data: object) -> list[Any]:
    from gather_job.findings import Findings
    from gather_job.pipeline.load import load

    findings = Findings()
    load(kind, f"{kind}.json", json.dumps(data).encode(), findings)
    return list(findings)


def test_schema_errors_name_the_path_and_the_allowed_values() -> None:
    data = assets.subject().model_dump(mode="json")
    data["subject_details"]["sex"] = "Unknown-sex"
    data["subject_details"]["genotype"] = 5
    found = {f.location: f for f in _load("subject", data)}
    assert found["subject_details.sex"].hint == "Allowed values: 'Female' or 'Male'."
    assert found["subject_details.genotype"].hint == "Write it as a JSON string (in quotes)."
    assert all(f.id == "gather.schema.invalid" for f in found.values())


def test_a_misspelt_object_type_suggests_the_right_one() -> None:
    data = assets.instrument_a().model_dump(mode="json")
    data["components"][0]["object_type"] = "Harp devise"
    (found,) = _load("instrument", data)
    assert found.location == "components[0]" and "did you mean 'Harp device'" in (found.hint or "")


def test_a_missing_field_and_an_extra_field() -> None:
    data = assets.instrument_a().model_dump(mode="json")
    del data["modification_date"]
    data["modifcation_date"] = "2024-01-01"
    found = {f.location: f for f in _load("instrument", data)}
    assert found["modification_date"].hint == "Add the required field 'modification_date'."
    assert found["modifcation_date"].hint == "Remove 'modifcation_date': the schema has no such field here."


def test_invalid_json_is_located() -> None:
    from gather_job.findings import Findings
    from gather_job.pipeline.load import load

    findings = Findings()
    load("subject", "subject.json", b'{\n  "subject_id": "1",\n  "sex" "Male"\n}', findings)
    (found,) = findings
    assert (found.id, found.location) == ("gather.file.invalid_json", "line 3 column 9")


def test_subject_mismatch_lists_every_place(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    run = gather(asset("mismatched_subject_file"), service_url=service.url)
    found = finding(run, "gather.subject_id.mismatch")
    assert found["location"] == "subject_id" and found["files"] == ["subject.json"]
    assert found["hint"].startswith("Every place: '123456' in acquisition_a.json, acquisition_b.json, settings")
    assert "'999999' in subject.json" in found["hint"]


def test_time_mismatch_names_the_part_the_start_came_from(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    run = gather(asset(), service_url=service.url, acquisition_start_time="2024-03-05T15:00:00-07:00")
    found = finding(run, "gather.time.mismatch")
    assert found["files"] == ["acquisition_a.json"] and found["location"] == "acquisition_start_time"
    assert (
        "The settings say 2024-03-05T15:00:00-07:00; acquisition_a.json says 2024-03-05T14:20:00-07:00" in found["hint"]
    )


def test_instrument_id_hint_names_the_file_and_the_closest_id(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    run = gather(asset("mismatched_instrument_id"), service_url=service.url)
    found = finding(run, "gather.compat.instrument_id_mismatch")
    assert found["files"] == ["acquisition_b.json"]
    assert f"acquisition_b.json says '{assets.WRONG_INSTRUMENT_ID}'" in found["hint"]
    assert f"did you mean '{assets.INSTRUMENT_B_ID}'?" in found["hint"]


def test_unknown_device_hint_names_where_the_close_names_live(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    folder = asset()
    data = json.loads((folder / "acquisition_a.json").read_text())
    data["data_streams"][0]["active_devices"].append("Probe B")
    (folder / "acquisition_a.json").write_text(json.dumps(data))
    run = gather(folder, service_url=service.url)
    found = finding(run, "gather.compat.unknown_active_device")
    assert found["location"] == f"data_streams[0].active_devices[{len(data['data_streams'][0]['active_devices']) - 1}]"
    assert "'Probe A' (procedures.json (service:" in found["hint"]


def _edit(folder: Any, name: str, change: Any) -> None:
    data = json.loads((folder / name).read_text())
    change(data)
    (folder / name).write_text(json.dumps(data))


def test_unknown_connection_device(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    folder = asset()

    def change(data: dict[str, Any]) -> None:
        stream = data["data_streams"][0]
        stream["active_devices"].append("Ghost Box")
        stream["connections"][0]["target_device"] = "Ghost Box"

    _edit(folder, "acquisition_a.json", change)
    run = gather(folder, service_url=service.url)
    found = finding(run, "gather.compat.unknown_connection_device")
    assert found["location"] == "data_streams[0].connections[0].target_device" and "Add a device named" in found["hint"]


def test_no_instrument_for_data_streams(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    folder = asset()
    for name in ("instrument_a.json", "instrument_b.json"):
        (folder / name).unlink()
    run = gather(folder, service_url=service.url)
    found = finding(run, "gather.compat.no_instrument")
    assert run.code == 3 and found["location"] == "data_streams" and "instrument_id" in found["hint"]


def test_no_exact_instrument_in_the_service(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    records = [{**assets.instrument_b().model_dump(mode="json"), "instrument_id": i} for i in ("CAM-1", "CAM-10")]
    service.add("/api/v2/instrument/CAM", Route(400, records, {"X-Error-Message": "Models have not been validated."}))
    run = gather(asset(), service_url=service.url, instrument_settings={"instrument_id": "CAM"})
    found = finding(run, "gather.service.no_exact_instrument")
    assert found["location"] == "instrument_settings.instrument_id" and "['CAM-1', 'CAM-10']" in found["message"]


def test_offline_instrument_id_is_not_fetched(gather, asset) -> None:  # type: ignore[no-untyped-def]
    run = gather(asset(with_subject=True, with_procedures=True), instrument_settings={"instrument_id": "CAM-1"})
    found = finding(run, "gather.service.offline")
    assert found["severity"] == "warning" and found["location"] == "instrument_settings.instrument_id"


def test_no_investigators(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    service.add(f"/api/v2/investigators/{assets.PROJECT_NAME}", Route(404, {"detail": "Not found"}))
    run = gather(asset(), service_url=service.url)
    found = finding(run, "gather.data_description.no_investigators")
    assert found["location"] == "investigators" and "404" in found["message"] and "investigators" in found["hint"]


def test_a_name_nested_in_one_part_and_used_by_another(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    folder = asset()

    def change(data: dict[str, Any]) -> None:
        computer = next(c for c in data["components"] if c["name"] == "Ephys Computer")
        data["components"].append({**computer, "name": "Face Camera Lens"})

    _edit(folder, "instrument_a.json", change)
    run = gather(folder, service_url=service.url)
    found = finding(run, "gather.merge.duplicate_names")
    assert found["severity"] == "warning" and found["value"] == ["Face Camera Lens"] and "unique" in found["hint"]


def test_what_the_library_only_logs_becomes_a_finding(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    folder = asset()
    _edit(folder, "instrument_a.json", lambda data: data["components"].append(dict(data["components"][-1])))
    run = gather(folder, service_url=service.url)
    found = finding(run, "gather.library.log")
    assert "Duplicate component names" in found["message"] and found["files"] == ["instrument_a.json"]


def test_instrument_parts_with_several_problems_are_told_all_in_one_round(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    """A field the parts disagree on does not hide the devices they share: no fixing in rounds."""
    import json

    folder = asset("shared_device")
    data = json.loads((folder / "instrument_b.json").read_text())
    data["location"] = "another room"
    (folder / "instrument_b.json").write_text(json.dumps(data))
    run = gather(folder, service_url=service.url)
    assert run.code == 3
    assert {"gather.merge.instrument_mismatch", "gather.merge.shared_device"} <= set(run.ids("error"))
