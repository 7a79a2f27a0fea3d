"""The command line: forms the pipeline and people use, exit codes decided in one place."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gather_job import cli
from gather_job.arguments import COMMANDS
from gather_job.cli import main
from tests.conftest import base_settings, pipeline_settings
from tests.support.fake_service import FakeMetadataService


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("gather-job ")
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    for setting in (
        "raise_if_invalid",
        "data_description_settings.project_name",
        "instrument_settings.instrument_id",
        "service_total_timeout_s",
        "if_exists",
    ):
        assert setting in text
    assert "(default true)" in text and "exit codes" in text


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_help_shows_an_example(capsys: pytest.CaptureFixture[str], command: str) -> None:
    assert main([command, "--help"]) == 0
    assert "example:" in capsys.readouterr().out


def test_no_command_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2


def test_exit_2_for_unusable_settings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--job-settings", '{"output_dir": "x", "subjectid": "1"}']) == 2
    err = capsys.readouterr().err
    assert "Unknown setting 'subjectid' in --job-settings (did you mean 'subject_id'?)" in err
    assert "Traceback" not in err and err.count("\n") <= 3
    assert main(["run", "--settings-file", str(tmp_path / "nope.json")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["run", "--job-settings", "{broken"]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    assert (
        main(
            [
                "run",
                "--job-settings",
                json.dumps({"output_dir": str(tmp_path / "o"), "metadata_dir": str(tmp_path / "missing")}),
            ]
        )
        == 2
    )
    assert "metadata_dir" in capsys.readouterr().err
    assert main(["run", "--job-settings", "{}"]) == 2
    assert "output_dir is not set" in capsys.readouterr().err


def test_exit_4_when_the_service_is_down_and_nothing_is_written(
    asset, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    settings = base_settings(asset(), tmp_path / "out", "http://127.0.0.1:9")
    code = main(["run", "--job-settings", json.dumps(settings)])
    err = capsys.readouterr().err
    assert code == 4
    assert "127.0.0.1:9" in err and "retry" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_exit_1_is_a_bug_with_a_traceback(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, "_dispatch", broken)
    assert main(["run", "--job-settings", "{}"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "bug in gather-job" in err


def test_debug_shows_a_traceback_for_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--debug", "run", "--job-settings", "[]"]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_flags_override_the_settings(gather, asset, service, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = gather(
        asset(), service_url=service.url, argv=["--output-dir", str(tmp_path / "flag-out"), "--subject-id", "1"]
    )
    assert run.code == 3  # subject_id 1 disagrees with the acquisition
    assert (tmp_path / "flag-out" / "gather_report.json").exists()


def test_settings_from_standard_input(asset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import io

    settings = base_settings(asset(with_subject=True, with_procedures=True), tmp_path / "out", None)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(json.dumps(settings).encode())))
    assert main(["run", "--settings-file", "-"]) == 0


def test_the_environment_reaches_the_settings(asset, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = base_settings(asset(with_subject=True, with_procedures=True), tmp_path / "out", None)
    environ = {"GATHER_OUTPUT_DIR": str(tmp_path / "env-out")}
    assert main(["run", "--job-settings", json.dumps(settings)], environ=environ) == 0
    assert (tmp_path / "env-out" / "instrument.json").exists()


def _subprocess(args: list[str], cwd: Path, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], **extra_env}  # as `singularity exec --cleanenv` runs it
    return subprocess.run(
        [sys.executable, "-m", "gather_job", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_the_pipelines_exact_call(asset, tmp_path: Path, service: FakeMetadataService) -> None:  # type: ignore[no-untyped-def]
    settings = pipeline_settings(asset(), tmp_path / "staging", service.url)
    done = _subprocess(["--job-settings", f" {json.dumps(settings)} "], tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "staging" / "data_description.json").exists()


@pytest.mark.slow
@pytest.mark.parametrize(("settings_patch", "code"), [({"subject_id": "1"}, 3), ({"bogus": 1}, 2)])
def test_subprocess_exit_codes(
    asset, tmp_path: Path, service: FakeMetadataService, settings_patch: dict[str, object], code: int
) -> None:  # type: ignore[no-untyped-def]
    settings = {**base_settings(asset(), tmp_path / "out", service.url), **settings_patch}
    done = _subprocess(["run", "--job-settings", json.dumps(settings)], tmp_path)
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_log_format_json(asset, tmp_path: Path, service: FakeMetadataService) -> None:  # type: ignore[no-untyped-def]
    settings = base_settings(asset(), tmp_path / "out", "http://127.0.0.1:9")
    settings["service_retries"] = 1
    done = _subprocess(
        ["--log-format", "json", "run", "--job-settings", json.dumps(settings)], tmp_path, LOG_LEVEL="WARNING"
    )
    assert done.returncode == 4
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert lines and {"timestamp", "level", "message"} <= set(lines[0])
