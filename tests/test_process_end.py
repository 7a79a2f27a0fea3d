"""The console script ends its process without an interpreter teardown (`cli.end_process`).

What must still hold: every byte written to stdout and stderr reaches the reader, the exit code is
main's, a thread still waiting on the network does not hold the exit, and a reader that closed the
pipe ends it quietly with exit 141 (what a shell shows for a tool stopped by SIGPIPE), in `main`
as in the last flush.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.fixtures import assets

PRELUDE = "import logging, sys, threading, time\nfrom gather_job.cli import end_process\n"


def _run(body: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-c", PRELUDE + body], capture_output=True, timeout=60, check=False)


@pytest.mark.parametrize("code", [0, 2, 3, 5])
def test_all_output_arrives_and_the_code_is_mains(code: int) -> None:
    body = (
        "logging.basicConfig(stream=sys.stderr, format='%(message)s')\n"
        "sys.stdout.write('x' * 300_000 + 'end')\n"  # more than a pipe holds: written while the reader reads
        "sys.stderr.write('partial line, no newline')\n"
        "logging.getLogger('gather_job').warning('logged last')\n"
        f"end_process({code})\n"
    )
    done = _run(body)
    assert done.returncode == code
    assert done.stdout == b"x" * 300_000 + b"end"
    assert done.stderr == b"partial line, no newlinelogged last\n"


def test_a_thread_still_waiting_does_not_hold_the_exit() -> None:
    body = "threading.Thread(target=time.sleep, args=(30,)).start()\nprint('done')\nend_process(0)\n"
    started = time.monotonic()
    done = _run(body)
    assert (done.returncode, done.stdout) == (0, b"done\n")
    assert time.monotonic() - started < 15


def _closed_early(argv: list[str], environ: dict[str, str], read: int) -> tuple[int, bytes]:
    """Run `argv`, read `read` bytes of its standard output, close the pipe; (exit code, stderr)."""
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environ) as child:
        assert child.stdout is not None and child.stderr is not None
        if read:
            child.stdout.read(read)
        child.stdout.close()
        error = child.stderr.read()
        return child.wait(timeout=120), error


def _buffered() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}


def test_output_still_buffered_when_the_reader_has_gone_ends_quietly() -> None:
    """The last flush fails (a short `check --format json | head -c 10`); a write inside `main` that
    fails is `main`'s (test_check_piped_into_head_stops_quietly)."""
    script = PRELUDE + "time.sleep(0.5)\nsys.stdout.write('x' * 100)\nend_process(0)\n"
    code, error = _closed_early([sys.executable, "-c", script], _buffered(), read=0)
    assert (code, error) == (141, b"")


def test_any_other_flush_failure_takes_pythons_own_exit() -> None:
    script = PRELUDE + "sys.stdout.write('x')\nsys.stdout.close()\nend_process(3)\n"
    done = _run(script)
    assert done.returncode == 3 and b"Traceback" not in done.stderr


def test_check_piped_into_head_stops_quietly(tmp_path: Path) -> None:
    """`gather-job check --each DIR --format jsonl | head -1`: no traceback, no 'bug', exit 141."""
    for i in range(6):
        assets.write_asset(tmp_path / f"asset-{i}", "valid")
    argv = [sys.executable, "-m", "gather_job", "check", "--each", str(tmp_path), "--offline", "--format", "jsonl"]
    code, error = _closed_early([*argv, "--jobs", "1"], _buffered(), read=1)
    text = error.decode()
    assert code == 141, text
    assert "Traceback" not in text and "bug" not in text
    assert text.rstrip().endswith("stopped: standard output was closed by its reader (exit 141); no report written.")


@pytest.mark.slow
@pytest.mark.parametrize("after", [0.3, 4.0])  # while the models import; while it waits on the service
def test_sigterm_ends_a_run_with_its_paragraph_and_verdict_line(tmp_path: Path, after: float) -> None:
    """A Slurm time limit or scancel sends SIGTERM: the stderr tail Airflow shows must still end with the
    verdict, not with a progress line. Here the service accepts the connection and never answers."""
    import json
    import signal
    import socket

    from tests.conftest import base_settings

    silent = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    accepting = threading.Thread(target=lambda: held.append(silent.accept()[0]), daemon=True)
    accepting.start()
    folder = assets.write_asset(tmp_path / "asset", "valid")
    settings = base_settings(folder, tmp_path / "out", f"http://127.0.0.1:{silent.getsockname()[1]}")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gather_job", "--job-settings", f" {json.dumps(settings)} "],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not held and time.monotonic() < deadline:  # the job is waiting on the service now
            time.sleep(0.05)
        assert held, "the job never asked the service"
        time.sleep(after)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        for connection in held:
            connection.close()
        silent.close()
    assert proc.returncode == 130, err
    assert "interrupted (SIGTERM); nothing was written" in err and "Traceback" not in err
    assert err.rstrip().splitlines()[-1].startswith("gather-job: verdict:")
    assert not (tmp_path / "out" / "gather_report.json").exists()


def test_an_interruption_while_writing_says_the_output_is_incomplete(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    import json

    from gather_job.cli import main
    from tests.conftest import base_settings

    folder = assets.write_asset(tmp_path / "asset", "valid", with_subject=True, with_procedures=True)
    settings = base_settings(folder, tmp_path / "out", None) | {"offline": True}
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(settings))

    def stop_at(step: str) -> None:
        if step.startswith("replace:"):  # the first core file lands: the rest, and the report, do not
            raise KeyboardInterrupt

    code = main(["run", "--settings-file", str(path)], environ={}, write_hook=stop_at)
    err = capsys.readouterr().err
    assert code == 130, err
    assert f"interrupted while writing to {tmp_path / 'out'}" in " ".join(err.split())
    assert not (tmp_path / "out" / "gather_report.json").exists()
