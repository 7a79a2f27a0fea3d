"""`gather-job run` end to end, through main(), against the fake service: outputs, report, toggle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gather_job.cli import main
from tests.conftest import Run, base_settings, tree_hash
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
    folder = asset()
    run = gather(folder, service_url=service.url)
    report = run.report()
    assert report["report_version"] == 1 and report["status"] == "written" and report["exit_code"] == 0
    assert report["sources"]["instrument.json"] == {
        "from": "merged",
        "parts": ["instrument_a.json", "instrument_b.json"],
    }
    assert report["sources"]["subject.json"]["from"] == "service"
    assert report["sources"]["data_description.json"] == {"built_from": "settings"}
    parts = ["acquisition_a.json", "acquisition_b.json", "instrument_a.json", "instrument_b.json"]
    kept = {f"original_metadata/uploaded_json/{name}" for name in parts}
    assert set(report["files"]) == set(CORE) | kept
    import hashlib

    for name, entry in report["files"].items():
        assert entry["sha256"] == hashlib.sha256((run.output / name).read_bytes()).hexdigest()
    for name in parts:  # the parts as they came, byte for byte
        assert (run.output / "original_metadata/uploaded_json" / name).read_bytes() == (folder / name).read_bytes()
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


def test_an_invalid_rerun_leaves_a_complete_earlier_result_alone(gather, asset, service, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    output = tmp_path / "shared-out"
    assert gather(asset(), service_url=service.url, output_dir=output).code == 0
    before = tree_hash(output)
    run = gather(asset("shared_device"), service_url=service.url, output_dir=output)
    assert run.code == 3
    assert tree_hash(output) == before  # the good result stays whole; no mix with the invalid run's report
    assert "left as it was" in " ".join(run.err.split())
    assert run.err.rstrip().splitlines()[-1].startswith("gather-job: verdict: invalid metadata (exit 3)")


def test_an_invalid_run_over_an_unfinished_one_leaves_only_its_report(gather, asset, service, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    output = tmp_path / "out"
    assert gather(asset(), service_url=service.url, output_dir=output).code == 0
    (output / "gather_report.json").unlink()  # as a run killed before its report leaves it
    run = gather(asset("shared_device"), service_url=service.url, output_dir=output)
    assert run.code == 3
    assert run.written() == ["gather_report.json"]  # no mix of old core files and a new report
    assert not (output / "original_metadata" / "uploaded_json").exists() or not list(
        (output / "original_metadata" / "uploaded_json").iterdir()
    )


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


def test_output_into_the_metadata_folder_keeps_an_input_it_rewrites(gather, asset, service, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """In place, the asset gets what was gathered (as a separate output would), the input kept first."""
    folder = asset("valid", with_subject=True)
    subject_bytes = (folder / "subject.json").read_bytes() + b"\n"
    (folder / "subject.json").write_bytes(subject_bytes)
    apart = gather(folder, service_url=service.url, output_dir=tmp_path / "apart")
    settings = tmp_path / "in_place.json"
    settings.write_text(json.dumps({**base_settings(folder, folder, service.url), "metadata_dir": None}))
    assert main(["run", "--settings-file", str(settings)], environ={}) == 0
    assert (folder / "subject.json").read_bytes() == (apart.output / "subject.json").read_bytes() != subject_bytes
    assert (folder / "original_metadata" / "uploaded_json" / "subject.json").read_bytes() == subject_bytes
    assert (folder / "instrument_a.json").exists() and (folder / "instrument.json").exists()
    for name in ("instrument_a.json", "acquisition_a.json"):  # the parts are never written over
        assert (folder / name).read_bytes() == (folder / "original_metadata" / "uploaded_json" / name).read_bytes()


def test_the_bundled_offline_example_runs(gather, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = json.loads(Path("job_settings.example.json").read_text())
    settings["output_dir"] = str(tmp_path / "example-out")
    path = tmp_path / "example.json"
    path.write_text(json.dumps(settings))
    from gather_job.cli import main

    assert main(["run", "--settings-file", str(path)], environ={}) == 0
    assert (tmp_path / "example-out" / "instrument.json").exists()


def test_originals_can_be_left_out(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    run = gather(asset(), service_url=service.url, keep_original_inputs=False)
    assert run.code == 0 and not (run.output / "original_metadata").exists()
    assert not any(name.startswith("original_metadata") for name in run.report()["files"])


def test_the_report_holds_no_local_path_or_private_host(gather, asset, service, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = asset()
    (folder / "acquisition_c.json").symlink_to(tmp_path)  # a finding about a link out of the folder
    run = gather(
        folder,
        service_url=service.url,
        s3_endpoint_url="http://minio.internal.example:9000",
        aws_profile="lab-admin",
        report=str(tmp_path / "copies" / "report.json"),
        raise_if_invalid=False,
    )
    text = (run.output / "gather_report.json").read_text()
    assert str(tmp_path) not in text and "/tmp" not in text
    assert "minio.internal.example" not in text and "lab-admin" not in text
    settings = json.loads(text)["settings"]
    assert settings["metadata_dir"] == f".../{folder.name}" and settings["output_dir"] == ".../out"
    assert settings["s3_endpoint_url"] == "(set)" and settings["metadata_service_url"] == service.url
    assert json.loads(text)["sources"]["instrument.json"]["parts"] == ["instrument_a.json", "instrument_b.json"]


def test_the_staging_folder_keeps_its_inode_mode_and_group(gather, asset, service, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import os
    import stat

    staging = tmp_path / "staging"
    staging.mkdir()
    os.chmod(staging, 0o2775)  # noqa: S103 - the pipeline's staging folder: group-writable, setgid
    group = 4321
    if os.geteuid() == 0:
        os.chown(staging, -1, group)
    before = staging.stat()
    for _ in range(2):  # a first run and a rerun over it
        run = gather(asset(), service_url=service.url, output_dir=staging)
        assert run.code == 0, run.err
        after = staging.stat()
        assert (after.st_ino, after.st_dev) == (before.st_ino, before.st_dev)
        assert stat.S_IMODE(after.st_mode) == 0o2775 and after.st_gid == before.st_gid
    if os.geteuid() == 0:  # the setgid bit gives every file the folder's group
        assert {p.stat().st_gid for p in staging.rglob("*")} == {group}
    assert not list(staging.rglob(".*gather-tmp*"))


@pytest.mark.parametrize(
    ("setup", "code", "says"),
    [
        ({}, 0, "written (exit 0)"),
        ({"variant": "shared_device"}, 3, "invalid metadata (exit 3)"),
        ({"settings": {"subjct_id": "1"}}, 2, "unusable settings or input (exit 2); no report written."),
        ({"settings": {"metadata_service_url": "http://127.0.0.1:9"}}, 4, "a service failed; retry later (exit 4)"),
    ],
)
def test_stderr_ends_with_one_verdict_line(gather, asset, service, setup, code, says) -> None:  # type: ignore[no-untyped-def]
    overrides = {"service_url": service.url, **setup.get("settings", {})}
    if "metadata_service_url" in overrides:
        overrides["service_url"] = overrides.pop("metadata_service_url")
    run = gather(asset(setup.get("variant", "valid")), **overrides)
    assert run.code == code
    last = run.err.rstrip().splitlines()[-1]
    assert last.startswith("gather-job: verdict: ") and says in last, last
    if code in (0, 3):
        assert str(run.output / "gather_report.json") in last and "error" in last


def test_no_finding_carries_a_local_path_into_the_report(gather, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A finding may name its folder (the upgrade command of a 1.x asset, a broken link's target); the
    report names a local folder by its last part, as it shows the settings."""
    import shutil

    folder = tmp_path / "legacy asset"
    shutil.copytree(Path(__file__).parent / "fixtures" / "legacy_1x", folder)
    run = gather(folder, raise_if_invalid=False)
    text = (run.output / "gather_report.json").read_text()
    assert str(tmp_path) not in text and str(tmp_path.resolve()) not in text
    assert ".../legacy asset" in text
