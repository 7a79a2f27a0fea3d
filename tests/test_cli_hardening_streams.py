"""Closed standard streams and JSON logs: the exit code is the work's, every message one record.

A process started with fd 0, 1 or 2 closed (`<&-`, `>&-`, `2>&-`: a supervisor, a cron line, a
shell script) has sys.stdin, sys.stdout or sys.stderr set to None. Reading a closed stdin as '-' is
the caller's mistake (exit 2, saying so); a closed stdout or stderr only means nobody reads what is
said there, so the files and the exit code stay what they would have been. The subprocess tests close
the descriptors with the shell, as the review's repro did; the in-process ones set the streams to None.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest

from gather_job.cli import main
from gather_job.console import JsonLines
from tests.conftest import base_settings

CLOSED_STDIN = "standard input is closed"


def _closed(redirect: str, argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python -m gather_job ARGV` started by a shell with `redirect` (e.g. `<&-`) closing a standard fd."""
    shell = f'exec "$@" {redirect}'
    stdout = subprocess.DEVNULL if ">&-" in redirect and "2>&-" not in redirect else subprocess.PIPE
    return subprocess.run(
        ["sh", "-c", shell, "sh", sys.executable, "-m", "gather_job", *argv],
        cwd=cwd,
        env={k: v for k, v in os.environ.items() if k in ("PATH", "PYTHONPATH")},
        stdout=stdout,
        stderr=subprocess.DEVNULL if "2>&-" in redirect else subprocess.PIPE,
        text=True,
        timeout=120,
        check=False,
    )


def _settings_file(asset: Callable[..., Path], tmp_path: Path) -> Path:
    path = tmp_path / "settings.json"
    folder = asset("valid", with_subject=True, with_procedures=True)  # complete offline: a run writes it, exit 0
    path.write_text(json.dumps(base_settings(folder, tmp_path / "out", None), default=str))
    return path


@pytest.mark.slow
@pytest.mark.parametrize(
    ("argv", "reads"),
    [
        (["run", "--settings-file", "-"], "--settings-file -"),
        (["check", "--from-file", "-", "--offline"], "--from-file -"),
        (["check", "DIR", "--settings-file", "-", "--offline"], "--settings-file -"),
        (["job-types", "show", "ecephys", "--settings-file", "-"], "--settings-file -"),
        (["job-types", "template", "--settings-file", "-"], "--settings-file -"),
    ],
)
def test_a_closed_stdin_read_as_dash_is_exit_2(asset, tmp_path: Path, argv: list[str], reads: str) -> None:  # type: ignore[no-untyped-def]
    argv = [str(asset()) if a == "DIR" else a for a in argv]
    done = _closed("<&-", argv, tmp_path)
    text = " ".join(done.stderr.split())
    assert done.returncode == 2, done.stderr
    assert f"{CLOSED_STDIN}, so {reads} has nothing to read" in text and "pipe them in" in text
    assert "Traceback" not in done.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("argv", "code"),
    [(["check", "DIR", "--offline"], 0), (["job-types", "list", "--job-type-source", "JT"], 0), (["summary", "R"], 3)],
)
def test_a_closed_stdout_does_not_change_the_exit_code(asset, tmp_path: Path, argv: list[str], code: int) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "jt.json").write_text(json.dumps({"ecephys": {"job_settings": {"subject_id": "1"}}}))
    results = tmp_path / "r.jsonl"
    record = {"type": "asset", "asset": "a", "exit_code": 3, "counts": {"error": 1, "warning": 0, "info": 0}}
    results.write_text(json.dumps(record) + "\n")
    names = {"DIR": str(asset()), "JT": str(tmp_path / "jt.json"), "R": str(results)}
    done = _closed(">&-", [names.get(a, a) for a in argv], tmp_path)
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_a_closed_stderr_does_not_change_the_exit_code(asset, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = _settings_file(asset, tmp_path)
    done = _closed("2>&-", ["run", "--settings-file", str(settings)], tmp_path)
    assert done.returncode == 0
    assert (tmp_path / "out" / "gather_report.json").exists() and (tmp_path / "out" / "subject.json").exists()
    done = _closed("2>&-", ["check", str(asset()), "--offline"], tmp_path)
    assert done.returncode == 0 and "gather-job check:" in done.stdout
    done = _closed("2>&-", ["run", "--settings-file", "/nonexistent/settings.json"], tmp_path)
    assert done.returncode == 2


@pytest.mark.slow
def test_a_report_to_dev_stdout_with_stdout_closed_lands_nowhere_else(asset, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """fd 1 closed: the first file the job opened would take its number; /dev/null stands in for it."""
    done = _closed(">&-", ["check", str(asset()), "--offline", "--output", "/dev/stdout"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in tmp_path.iterdir() if p.is_dir())


def test_closed_stdin_in_process(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", None)
    assert main(["run", "--settings-file", "-"], environ={}) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "standard input is closed, so --settings-file - has nothing to read" in err
    assert "Give the settings as a file, or pipe them in" in err and "Traceback" not in err
    assert type(sys.stdin).__name__ == "ClosedInput"  # what main put in place of None
    assert main(["check", "--from-file", "-", "--offline"], environ={}) == 2  # told again what '-' reads
    assert "--from-file - has nothing to read. Give the list of assets" in " ".join(capsys.readouterr().err.split())


def test_closed_stdout_and_stderr_in_process(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("stdout", "stderr"):
        monkeypatch.setattr(sys, name, None)
        assert main(["--version"]) == 0
        assert main(["job-types", "template"], environ={}) == 0  # writes the Task to stdout
        assert main(["run", "--settings-file", "/nonexistent/s.json"], environ={}) == 2
        sink = getattr(sys, name)
        assert sink is not None and sink.name == os.devnull
        sink.close()
        monkeypatch.undo()


def test_json_logs_make_one_record_of_an_error_paragraph(capsys: pytest.CaptureFixture[str]) -> None:
    """The review's repro: the error cut mid-sentence, its fix in INFO records of its own."""
    assert main(["--log-format", "json", "run", "--settings-file", "/nonexistent/settings.json"], environ={}) == 2
    records = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [r["level"] for r in records] == ["ERROR", "ERROR"]
    error, verdict = (r["message"] for r in records)
    assert (
        error.startswith("gather-job: error: The settings file") and "Check the path given to --settings-file" in error
    )
    assert "\n" not in error  # not wrapped for a screen
    assert verdict.startswith("gather-job: verdict: unusable settings or input (exit 2)")


def test_json_logs_make_one_record_of_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--debug", "--log-format", "json", "run", "--settings-file", "/nonexistent/settings.json"]
    assert main(args, environ={}) == 2
    records = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [r["level"] for r in records] == ["ERROR", "ERROR", "ERROR"]
    assert records[0]["message"].startswith("Traceback (most recent call last):")
    assert "UsageError" in records[0]["message"]


def _records(*writes: str) -> list[dict[str, str]]:
    target = io.StringIO()
    stream = JsonLines(target)
    for text in writes:
        stream.write(text)
    stream.flush()
    return [json.loads(line) for line in target.getvalue().splitlines()]


def test_json_lines_cut_at_paragraphs_with_their_levels() -> None:
    summary = (
        "gather-job check: 1 error, 1 warning, 0 notes; errors must be fixed before upload.\n\n"
        "checked d:\n  subject.json  from subject.json\n\n"
        "acquisition_b.json\n  ERROR   gather.x  at y\n          message\n          fix: this\n\n"
        "instrument_a.json\n  WARNING gather.w\n          words\n"
    )
    records = _records(summary)
    assert [r["level"] for r in records] == ["ERROR", "INFO", "ERROR", "WARNING"]
    assert (
        records[2]["message"] == "acquisition_b.json\n  ERROR   gather.x  at y\n          message\n          fix: this"
    )


def test_json_lines_levels_are_not_fooled_by_words() -> None:
    records = _records(
        "gather-job check: 0 errors, 0 warnings, 2 notes; ready for upload.\n",
        "gather-job: verdict: no error found here, open until upload: x (exit 0): 0 errors; no report written.\n",
        "gather-job: verdict: a service failed; retry later (exit 4); no report written.\n",
        "gather-job: verdict: stopped: standard output was closed by its reader (exit 141); no report written.\n",
    )
    assert [r["level"] for r in records] == ["INFO", "INFO", "ERROR", "INFO"]


def test_json_lines_join_a_line_written_in_pieces_and_keep_chained_tracebacks_whole() -> None:
    try:
        try:
            raise KeyError("inner")
        except KeyError as inner:
            raise ValueError("outer") from inner
    except ValueError as exc:
        text = "".join(traceback.format_exception(exc))
    records = _records("gather-job: loading", " models: 1.2 s\n", text, "cut")
    assert records[0]["message"] == "gather-job: loading models: 1.2 s"
    assert len(records) == 3 and "KeyError" in records[1]["message"] and "ValueError" in records[1]["message"]
    assert records[1]["level"] == "ERROR" and records[2]["message"] == "cut"


@pytest.mark.slow
def test_a_many_asset_run_whose_stderr_reader_leaves_finishes_its_results(tmp_path: Path) -> None:
    """`check --each ... 2>&1 >/dev/null | head -1`: the progress lines after the first cannot be shown;
    that must not end the run with a traceback (exit 1) and its results cut short."""
    from tests.fixtures import assets

    for i in range(4):
        assets.write_asset(tmp_path / "archive" / f"a{i}", with_subject=True)
    results = tmp_path / "results.jsonl"
    command = [sys.executable, "-m", "gather_job", "check", "--each", str(tmp_path / "archive"), "--offline"]
    process = subprocess.Popen(
        [*command, "--jobs", "1", "--output", str(results)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert process.stderr is not None
    assert process.stderr.readline().startswith(b"gather-job: 1/4 assets checked")
    process.stderr.close()  # the reader leaves
    assert process.wait(timeout=120) == 0
    last = json.loads(results.read_text().splitlines()[-1])
    assert last["type"] == "summary" and last["assets"] == 4
