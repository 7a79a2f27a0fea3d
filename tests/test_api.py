"""The Python API: `GatherMetadataJob(JobSettings(...)).run_job()` is `gather-job run`, in-process.

Outcomes and outputs are the CLI's byte for byte; InvalidMetadata carries the outcome after the
report is written; jobs run one after another in one process give what separate processes give.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gather_job import ExitCode, GatherMetadataJob, InvalidMetadata, JobSettings, Outcome, ServiceError, UsageError
from gather_job.cli import main
from tests.conftest import base_settings
from tests.fixtures import assets
from tests.support.fake_service import FakeMetadataService

ROOT = Path(__file__).resolve().parent.parent


def _files(folder: Path) -> dict[str, bytes]:
    report = json.loads((folder / "gather_report.json").read_text())
    for volatile in ("finished_at", "timings_s"):
        report.pop(volatile)
    report["settings"].pop("output_dir")
    files = {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "gather_report.json"
    }
    return {**files, "report": json.dumps(report, sort_keys=True).encode()}


def _settings(folder: Path, output: Path, service_url: str | None, **extra: Any) -> dict[str, Any]:
    return {**base_settings(folder, output, service_url), **extra}


@pytest.mark.slow
def test_run_job_is_the_run_command(asset: Any, service: FakeMetadataService, tmp_path: Path) -> None:
    folder = asset(with_subject=True)
    values = _settings(folder, tmp_path / "api", service.url)
    outcome = GatherMetadataJob(JobSettings(**values)).run_job()
    assert isinstance(outcome, Outcome)
    assert outcome.status == "written" and outcome.exit_code is ExitCode.OK
    written = sorted(str(p.relative_to(tmp_path / "api")) for p in (tmp_path / "api").rglob("*") if p.is_file())
    assert sorted(outcome.files) == written
    assert "original_metadata/uploaded_json/acquisition_a.json" in written  # the parts, kept as they came
    for name, entry in outcome.files.items():
        assert len((tmp_path / "api" / name).read_bytes()) == entry["bytes"]
    assert outcome.report["status"] == "written" and outcome.findings.count(outcome.findings.items[0].severity) >= 0
    values["output_dir"] = str(tmp_path / "cli")
    assert main(["run", "--job-settings", json.dumps(values)], environ={}) == 0
    assert _files(tmp_path / "api") == _files(tmp_path / "cli")


def test_invalid_metadata_raises_after_the_report(asset: Any, tmp_path: Path) -> None:
    values = _settings(asset("unknown_active_device"), tmp_path / "out", None)
    with pytest.raises(InvalidMetadata) as caught:
        GatherMetadataJob(JobSettings(**values)).run_job()
    outcome = caught.value.outcome
    assert caught.value.exit_code == ExitCode.INVALID == 3
    assert outcome.status == "invalid" and outcome.findings.has_errors
    assert sorted(outcome.files) == ["gather_report.json"]
    assert json.loads((tmp_path / "out" / "gather_report.json").read_text())["status"] == "invalid"
    assert "gather.compat.unknown_active_device" in {f.id for f in outcome.findings}


def test_without_raise_if_invalid_the_outcome_says_it(asset: Any, tmp_path: Path) -> None:
    values = _settings(asset("unknown_active_device"), tmp_path / "out", None, raise_if_invalid=False)
    outcome = GatherMetadataJob(JobSettings(**values)).run_job()
    assert outcome.exit_code == 0 and outcome.findings.has_errors and "acquisition.json" in outcome.files


def test_check_writes_nothing(asset: Any, tmp_path: Path) -> None:
    folder = asset("mismatched_instrument_id")
    outcome = GatherMetadataJob(JobSettings(**_settings(folder, tmp_path / "out", None))).check()
    assert outcome.status == "checked" and outcome.exit_code == ExitCode.INVALID and outcome.files == {}
    assert not (tmp_path / "out").exists()


def test_failures_raise_the_typed_exceptions(asset: Any, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="output_dir is not set"):
        GatherMetadataJob(JobSettings(metadata_dir=str(asset()))).run_job()
    dead = _settings(asset(), tmp_path / "out", "http://127.0.0.1:9", service_retries=0, service_total_timeout_s=2)
    with pytest.raises(ServiceError):
        GatherMetadataJob(JobSettings(**dead)).run_job()
    with pytest.raises(TypeError):
        GatherMetadataJob({"output_dir": "x"}).run_job()  # type: ignore[arg-type]


@pytest.mark.slow
def test_jobs_in_one_process_give_what_separate_processes_give(
    asset: Any, service: FakeMetadataService, tmp_path: Path
) -> None:
    """Valid, invalid, offline and online jobs in a row, then the same as subprocesses."""

    def folder(i: int, variant: str, **files: bool) -> Path:
        return assets.write_asset(tmp_path / f"case-{i}", variant, **files)

    cases = [
        (folder(0, "valid", with_subject=True), service.url, {}),
        (folder(1, "shared_device"), None, {"raise_if_invalid": False}),
        (folder(2, "three_instruments"), service.url, {}),
        (folder(3, "mismatched_instrument_id"), None, {"raise_if_invalid": False}),
        (folder(4, "valid", with_subject=True, with_procedures=True), None, {}),
    ]
    for i, (folder, url, extra) in enumerate(cases):
        GatherMetadataJob(JobSettings(**_settings(folder, tmp_path / f"in-{i}", url, **extra))).run_job()
    environment = {"PATH": os.environ["PATH"]}
    for i, (folder, url, extra) in enumerate(cases):
        values = json.dumps(_settings(folder, tmp_path / f"apart-{i}", url, **extra))
        done = subprocess.run(
            [sys.executable, "-m", "gather_job", "--job-settings", values],
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert _files(tmp_path / f"in-{i}") == _files(tmp_path / f"apart-{i}"), f"case {i}"


@pytest.mark.slow
def test_the_readme_example_runs(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Python API") :]
    code = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert code is not None
    for name in ("job_settings.example.json", "examples"):
        source = ROOT / name
        (tmp_path / name).symlink_to(source, target_is_directory=source.is_dir())
    done = subprocess.run(
        [sys.executable, "-c", code.group(1)], cwd=tmp_path, capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "written 0" in done.stdout
    assert (tmp_path / "output" / "data_description.json").is_file()


def test_a_written_file_is_byte_for_byte_what_model_dump_json_gives() -> None:
    from gather_job.job import serialize
    from gather_job.pipeline.documents import Document

    files = assets.asset_files("valid")
    for name, model in sorted(files.items()):
        doc = Document(kind=name.split("_")[0].removesuffix(".json"), label=name, model=model)
        assert serialize(doc) == model.model_dump_json(indent=3).encode("utf-8"), name


def test_settings_copied_with_unchecked_values_are_checked_by_the_job(tmp_path: Path) -> None:
    """`model_copy(update=...)` skips validation; the job checks again, and keeps an unchanged object."""
    from datetime import datetime

    settings = JobSettings(output_dir=str(tmp_path / "out"), acquisition_start_time="2023-04-25T02:35:00-07:00")
    assert GatherMetadataJob(settings).job_settings is settings
    copied = settings.model_copy(
        update={"metadata_dir": tmp_path / "in", "acquisition_start_time": "2023-04-25T02:35:00-07:00"}
    )
    job = GatherMetadataJob(copied)
    assert job.job_settings.metadata_dir == str(tmp_path / "in")
    assert isinstance(job.job_settings.acquisition_start_time, datetime)


def test_a_library_call_logs_each_finding_and_the_outcome(
    asset, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    """The reference logged every problem and returned None; code written for it reads logs."""
    import logging

    folder = asset("shared_device")
    settings = JobSettings(
        **{**base_settings(folder, tmp_path / "out", None), "raise_if_invalid": False}  # type: ignore[arg-type]
    )
    with caplog.at_level(logging.INFO, logger="gather_job.findings"):
        outcome = GatherMetadataJob(settings).run_job()
    records = [r for r in caplog.records if r.name == "gather_job.findings"]
    errors = [r.getMessage() for r in records if r.levelno == logging.ERROR]
    assert any("(gather.merge.shared_device)" in message for message in errors)
    assert records[-1].getMessage().startswith("gather-job written (exit 0): ")
    assert len(records) == len(outcome.findings.items) + 1


def test_the_cli_prints_findings_once(asset, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    folder = asset("shared_device")
    settings = tmp_path / "s.json"
    settings.write_text(json.dumps(base_settings(folder, tmp_path / "out", None)))
    assert main(["run", "--settings-file", str(settings)], environ={}) == 3
    err = capsys.readouterr().err
    assert err.count("shared_device") >= 1 and "gather_job.findings" not in err
