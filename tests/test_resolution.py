"""Every row of the table in docs/design.md §5, through a real run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gather_job.pipeline.plan import plan_files
from tests.fixtures import assets
from tests.support.fake_service import FakeMetadataService


def test_plan_is_sorted_and_exact_files_win() -> None:
    plan = plan_files(
        [
            "instrument_b.json",
            "instrument.json",
            "instrument_a.json",
            "acquisition_z.json",
            "acquisition_a.json",
            "quality_control_1.json",
            "session.json",
            "notes.json",
            "gather_report.json",
            "readme.txt",
        ]
    )
    assert plan.exact == {"instrument": "instrument.json"}
    assert plan.parts == {
        "acquisition": ["acquisition_a.json", "acquisition_z.json"],
        "quality_control": ["quality_control_1.json"],
    }
    assert plan.ignored_parts == {"instrument": ["instrument_a.json", "instrument_b.json"]}
    assert plan.legacy == ["session.json"] and plan.unused == ["notes.json"]


def test_second_column_subject_procedures_from_service_and_data_description_built(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    run = gather(asset(), service_url=service.url)
    sources = run.report()["sources"]
    assert sources["subject.json"]["url"].endswith(f"/api/v2/subject/{assets.SUBJECT_ID}")
    assert sources["procedures.json"]["url"].endswith(f"/api/v2/procedures/{assets.SUBJECT_ID}")
    assert sources["data_description.json"] == {"built_from": "settings"}
    assert service.count("/api/v2/funding/Test project") == 1


def test_first_column_exact_files_are_used_and_procedures_joined_with_the_service(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    folder = asset(with_subject=True, with_user_procedures=True, with_data_description=True)
    run = gather(folder, service_url=service.url)
    assert run.code == 0, run.err
    sources = run.report()["sources"]
    for name in ("subject.json", "data_description.json"):
        assert sources[name] == {"from": "file", "file": name}
    assert sources["procedures.json"]["from"] == "merged" and sources["procedures.json"]["parts"] == ["procedures.json"]
    assert sources["procedures.json"]["service"][0].endswith(f"/api/v2/procedures/{assets.SUBJECT_ID}")
    kinds = [p["object_type"] for p in run.file("procedures.json")["subject_procedures"]]
    assert kinds == ["Water restriction", "Surgery"]  # the folder's first, as the reference joins them
    assert service.count(f"/api/v2/subject/{assets.SUBJECT_ID}") == 0
    assert service.count(f"/api/v2/procedures/{assets.SUBJECT_ID}") == 1
    assert service.count("/api/v2/funding/Test project") == 0


@pytest.mark.parametrize(("raise_if_invalid", "code"), [(True, 3), (False, 0)])
def test_procedures_the_service_already_has_are_refused(gather, asset, service, raise_if_invalid, code) -> None:  # type: ignore[no-untyped-def]
    folder = asset(with_subject=True, with_procedures=True)  # the service's surgery, copied into the folder
    run = gather(folder, service_url=service.url, raise_if_invalid=raise_if_invalid)
    assert run.code == code, run.err
    duplicate = [f for f in run.report()["findings"] if f["id"] == "gather.procedures.duplicate"]
    assert duplicate and duplicate[0]["severity"] == ("error" if raise_if_invalid else "warning")
    assert "Surgery of 2024-02-01" in duplicate[0]["message"] and duplicate[0]["location"] == "subject_procedures[0]"
    if not raise_if_invalid:
        assert run.report()["sources"]["procedures.json"] == {"from": "file", "file": "procedures.json"}
        assert (run.output / "procedures.json").read_bytes() == (folder / "procedures.json").read_bytes()


def test_exact_instrument_and_acquisition_win_over_parts(gather, asset, service, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = asset()
    merged = gather(folder, service_url=service.url, output_dir=tmp_path / "first")
    for name in ("instrument.json", "acquisition.json"):
        (folder / name).write_bytes((merged.output / name).read_bytes())
    run = gather(folder, service_url=service.url)
    assert run.code == 0, run.err
    assert run.report()["sources"]["instrument.json"] == {"from": "file", "file": "instrument.json"}
    assert run.ids("warning").count("gather.resolve.ignored_parts") == 2
    assert (run.output / "instrument.json").read_bytes() == (merged.output / "instrument.json").read_bytes()


def test_instrument_from_the_service_is_merged_with_the_folder_parts(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    folder = asset()
    (folder / "instrument_b.json").unlink()
    run = gather(folder, service_url=service.url, instrument_settings={"instrument_id": assets.INSTRUMENT_B_ID})
    assert run.code == 0, run.err
    assert run.file("instrument.json")["instrument_id"] == assets.MERGED_INSTRUMENT_ID
    source = run.report()["sources"]["instrument.json"]
    assert source["parts"][0] == "instrument_a.json" and len(source["service"]) == 1
    assert service.count(f"/api/v2/instrument/{assets.INSTRUMENT_B_ID}") == 1


def test_the_service_instrument_record_is_the_newest_with_the_exact_id(service: FakeMetadataService) -> None:
    from gather_job.findings import Findings
    from gather_job.pipeline.service_answers import instrument_record
    from tests.test_service import client

    answer = client(service.url).get("instrument", assets.INSTRUMENT_B_ID)
    doc = instrument_record(assets.INSTRUMENT_B_ID, answer, Findings())
    assert doc is not None and doc.data["modification_date"] == "2024-02-15"


def test_a_service_instrument_already_in_the_folder_is_not_merged_twice(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    run = gather(asset(), service_url=service.url, instrument_settings={"instrument_id": assets.INSTRUMENT_B_ID})
    assert run.code == 0, run.err
    assert "gather.service.instrument_in_folder" in run.ids("info")


def test_quality_control_parts_merge_and_processing_model_are_copied(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    folder = asset()
    assets.write_json(assets.quality_control_a(), folder / "quality_control_a.json")
    assets.write_json(assets.quality_control_b(), folder / "quality_control_b.json")
    run = gather(folder, service_url=service.url)
    assert run.code == 0, run.err
    qc = run.file("quality_control.json")
    assert len(qc["metrics"]) == 2
    assert run.report()["sources"]["quality_control.json"]["parts"] == [
        "quality_control_a.json",
        "quality_control_b.json",
    ]


def test_subject_id_comes_from_the_acquisition_when_settings_have_none(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    run = gather(asset(), service_url=service.url, subject_id=None)
    assert run.code == 0, run.err
    assert run.file("subject.json")["subject_id"] == assets.SUBJECT_ID


def test_start_time_and_subject_from_settings_without_acquisition(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    folder = asset()
    for name in ("acquisition_a.json", "acquisition_b.json"):
        (folder / name).unlink()
    run = gather(folder, service_url=service.url)
    assert run.code == 0, run.err
    assert run.file("data_description.json")["name"] == assets.ASSET_NAME
    assert "gather.resolve.missing" in run.ids("warning")


def test_naive_start_time_without_acquisition_is_kept_as_wall_clock(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    folder = asset()
    for name in ("acquisition_a.json", "acquisition_b.json"):
        (folder / name).unlink()
    naive = assets.ACQUISITION_START.replace(tzinfo=None).isoformat()
    run = gather(folder, service_url=service.url, acquisition_start_time=naive)
    assert run.code == 0, run.err
    assert run.file("data_description.json")["name"] == assets.ASSET_NAME
    assert "gather.time.naive_start" in run.ids("warning")
    written = run.file("data_description.json")["creation_time"]
    (said,) = [f for f in run.report()["findings"] if f["id"] == "gather.time.naive_start"]
    assert f"written as {written} " in said["message"]  # the value as the file has it (...Z)


def test_legacy_and_unused_files_are_reported_not_read(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    folder = asset()
    (folder / "session.json").write_text(json.dumps({"old": True}))
    (folder / "notes.json").write_text("not even json")
    run = gather(folder, service_url=service.url)
    assert run.code == 0, run.err
    assert "gather.resolve.legacy_name" in run.ids("warning") and "gather.resolve.unused" in run.ids("info")


def test_offline_needs_no_service(gather, asset) -> None:  # type: ignore[no-untyped-def]
    run = gather(asset(with_subject=True, with_procedures=True), service_url=None)
    assert run.code == 0, run.err
    assert run.report()["service_calls"] == []


def test_offline_without_subject_file_is_an_error(gather, asset) -> None:  # type: ignore[no-untyped-def]
    run = gather(asset(), service_url=None)
    assert run.code == 3
    assert "gather.resolve.missing" in run.ids("error")
