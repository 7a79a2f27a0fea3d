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
