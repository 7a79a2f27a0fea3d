"""The console script ends its process without an interpreter teardown (`cli.end_process`).

What must still hold: every byte written to stdout and stderr reaches the reader, the exit code is
main's, a thread still waiting on the network does not hold the exit, and a reader that closed the
pipe gets the exit Python always gave.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

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


def test_a_closed_pipe_exits_as_python_always_did() -> None:
    """The reader is gone before the buffered output is flushed: exit 120 and Python's own message."""
    environ = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    outcomes = []
    for end in ("end_process(0)", "sys.exit(0)"):
        script = PRELUDE + f"sys.stdout.write('x' * 100)\ntime.sleep(1)\n{end}\n"
        with subprocess.Popen(
            [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environ
        ) as reader:
            assert reader.stdout is not None and reader.stderr is not None
            reader.stdout.close()
            error = reader.stderr.read()
            outcomes.append((reader.wait(timeout=60), b"BrokenPipeError" in error))
    assert outcomes[0] == outcomes[1] == (120, True)
