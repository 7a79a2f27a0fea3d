"""`gather-job run` end to end, through main(), against the fake service: outputs, report, toggle."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Run, tree_hash
from tests.fixtures import assets
from tests.support.fake_service import FakeMetadataService

CORE = ["acquisition.json", "data_description.json", "instrument.json", "procedures.json", "subject.json"]


def test_a_valid_two_instrument_asset(gather, asset, service: FakeMetadataService) -> None:  # type: ignore[no-untyped-def]
    run: Run = gather(asset(), service_url=service.url)
    assert run.code == 0, run.err
    assert run.written() == sorted([*CORE, "gather_report.json"])
    instrument = run.file("instrument.json")
    assert instrument["instrument_id"] == assets.MERGED_INSTRUMENT_ID
    assert [c["name"] for c in instrument["components"]].count(assets.CLOCK_NAME) == 1
    acquisition = run.file("acquisition.json")
    assert acquisition["instrument_id"] == assets.MERGED_INSTRUMENT_ID
    assert len(acquisition["data_streams"]) == 1  # the two streams fused
    assert len(acquisition["data_streams"][0]["code"]) == 2  # restored: the library drops it
    assert len(acquisition["manipulations"]) == 1  # restored: the library drops it
    description = run.file("data_description.json")
    assert description["name"] == assets.ASSET_NAME
    assert description["creation_time"] == assets.ACQUISITION_START.isoformat()
    assert description["funding_source"] and description["investigators"]
    assert run.file("subject.json")["subject_id"] == assets.SUBJECT_ID
    assert "gather-job: wrote 5 files" in run.err


def test_the_report_lists_sources_findings_timings_and_checksums(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    run = gather(asset(), service_url=service.url)
    report = run.report()
    assert report["report_version"] == 1 and report["status"] == "written" and report["exit_code"] == 0
    assert report["sources"]["instrument.json"] == {
        "from": "merged",
        "parts": ["instrument_a.json", "instrument_b.json"],
    }
    assert report["sources"]["subject.json"]["from"] == "service"
    assert report["sources"]["data_description.json"] == {"built_from": "settings"}
    assert set(report["files"]) == set(CORE)
    import hashlib

    for name, entry in report["files"].items():
        assert entry["sha256"] == hashlib.sha256((run.output / name).read_bytes()).hexdigest()
    assert {"resolve", "import_models", "read_and_validate", "cross_checks"} <= set(report["timings_s"])
    assert all(
        f.keys() == {"id", "severity", "files", "location", "message", "value", "hint"} for f in report["findings"]
    )
    assert "gather.merge.restored" in run.ids("info")


def test_a_rerun_gives_byte_identical_core_files(gather, asset, service, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = asset()
    first = gather(folder, service_url=service.url)
    before = {name: (first.output / name).read_bytes() for name in CORE}
    second = gather(folder, service_url=service.url)
    assert second.code == 0
    assert {name: (second.output / name).read_bytes() for name in CORE} == before
    assert not [p for p in tmp_path.iterdir() if "gather-tmp" in p.name]  # no temporary folder left


def test_output_files_are_what_aind_data_schema_writes(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    from aind_data_schema.core.instrument import Instrument

    run = gather(asset(), service_url=service.url)
    raw = (run.output / "instrument.json").read_text()
    assert Instrument.model_validate_json(raw).model_dump_json(indent=3) == raw
    assert Instrument.default_filename() == "instrument.json"


def test_invalid_metadata_with_raise_true_writes_only_the_report(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    run = gather(asset("unknown_active_device"), service_url=service.url)
    assert run.code == 3
    assert run.written() == ["gather_report.json"]
    assert run.report()["status"] == "invalid"
    assert "gather.compat.unknown_active_device" in run.ids("error")
    assert "no core file was written" in run.err
    assert "ERROR   gather.compat.unknown_active_device" in run.err


def test_invalid_metadata_with_raise_false_writes_everything_gathered(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    run = gather(asset("unknown_active_device"), service_url=service.url, raise_if_invalid=False)
    assert run.code == 0
    assert run.written() == sorted([*CORE, "gather_report.json"])
    assert "gather.compat.unknown_active_device" in run.ids("error")
    assert run.report()["status"] == "written"


def test_raise_false_passes_an_invalid_file_on_byte_for_byte(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    folder = asset("valid", with_subject=True)
    broken = json.loads((folder / "subject.json").read_text())
    broken["sex"] = "Unknown-sex"
    (folder / "subject.json").write_text(json.dumps(broken))
    run = gather(folder, service_url=service.url, raise_if_invalid=False)
    assert run.code == 0
    assert (run.output / "subject.json").read_bytes() == (folder / "subject.json").read_bytes()
    assert "gather.schema.invalid" in run.ids("error")


def test_a_failed_run_replaces_a_previous_result_whole(gather, asset, service, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    output = tmp_path / "shared-out"
    assert gather(asset(), service_url=service.url, output_dir=output).code == 0
    run = gather(asset("shared_device"), service_url=service.url, output_dir=output)
    assert run.code == 3
    assert run.written() == ["gather_report.json"]  # no mix of old core files and a new report


def test_if_exists_policies(gather, asset, service, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    output = tmp_path / "policy-out"
    folder = asset()
    assert gather(folder, service_url=service.url, output_dir=output).code == 0
    before = tree_hash(output)
    skipped = gather(folder, service_url=service.url, output_dir=output, if_exists="skip")
    assert skipped.code == 0 and "skipped" in skipped.err and tree_hash(output) == before
    refused = gather(folder, service_url=service.url, output_dir=output, if_exists="error")
    assert refused.code == 5 and "already holds a gathered asset" in refused.err and tree_hash(output) == before
    again = gather(folder, service_url=service.url, output_dir=output, if_exists="overwrite")
    assert again.code == 0


def test_output_into_the_metadata_folder_never_rewrites_an_input(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    folder = asset("valid", with_subject=True)
    subject_bytes = (folder / "subject.json").read_bytes() + b"\n"
    (folder / "subject.json").write_bytes(subject_bytes)
    run = gather(folder, service_url=service.url, metadata_dir=None, output_dir=folder)
    assert run.code == 0, run.err
    assert (folder / "subject.json").read_bytes() == subject_bytes
    assert (folder / "instrument_a.json").exists() and (folder / "instrument.json").exists()


def test_the_bundled_offline_example_runs(gather, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = json.loads(Path("job_settings.example.json").read_text())
    settings["output_dir"] = str(tmp_path / "example-out")
    path = tmp_path / "example.json"
    path.write_text(json.dumps(settings))
    from gather_job.cli import main

    assert main(["run", "--settings-file", str(path)], environ={}) == 0
    assert (tmp_path / "example-out" / "instrument.json").exists()
