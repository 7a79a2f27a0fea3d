"""SIGKILL at each write step: the output holds the previous or the new complete result, or no report
(visibly incomplete until a rerun), never a report beside files it does not describe."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import base_settings
from tests.support import launcher
from tests.support.reliability import record

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _settings(folder: Path, output: Path, summary: str) -> str:
    settings = base_settings(folder, output, None)
    settings["data_description_settings"]["data_summary"] = summary
    return json.dumps(settings)


def _start(settings: str, cwd: Path, pause: float) -> subprocess.Popen[str]:
    env = {"PATH": os.environ["PATH"]}
    return subprocess.Popen(
        launcher.command(pause, "run", "--job-settings", settings),
        cwd=cwd,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )


def _state(output: Path) -> dict[str, bytes]:
    """The visible files, by path relative to the output (a killed run may leave a hidden
    .NAME.gather-tmp-*; the next run removes it)."""
    if not output.exists():
        return {}
    return {
        str(p.relative_to(output)): p.read_bytes()
        for p in sorted(output.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


INPUTS = ("instrument_", "acquisition_")


def _complete(state: dict[str, bytes]) -> dict[str, bytes] | None:
    """The files of a complete result (its report lists exactly them, with matching checksums)."""
    if "gather_report.json" not in state:
        return None
    listed = json.loads(state["gather_report.json"])["files"]
    written = {n: b for n, b in state.items() if n != "gather_report.json" and not n.startswith(INPUTS)}
    if "subject.json" not in listed:  # shared folder: the inputs subject/procedures are never rewritten
        written = {n: b for n, b in written.items() if n in listed}
    assert set(listed) == set(written), "files and report disagree"
    for name, data in written.items():
        assert hashlib.sha256(data).hexdigest() == listed[name]["sha256"], f"half-written {name}"
    return written


def _run_to_end(settings: str, cwd: Path) -> None:
    proc = _start(settings, cwd, 0)
    assert proc.stderr is not None
    with proc.stderr:
        err = proc.stderr.read()
    assert proc.wait(timeout=120) == 0, err


def _kill_at_pause(settings: str, cwd: Path, index: int) -> bool:
    """Kill the job while it waits before its `index`-th write step; False when it had fewer steps."""
    proc = _start(settings, cwd, 0.3)
    assert proc.stderr is not None
    seen = 0
    with proc.stderr:
        for line in proc.stderr:
            if "test pause before" in line:
                if seen == index:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait(timeout=30)
                    return True
                seen += 1
    proc.wait(timeout=30)
    return False


@pytest.mark.slow
@pytest.mark.parametrize("shared", [False, True], ids=["own-folder", "metadata-folder"])
def test_sigkill_at_every_write_step(asset, tmp_path: Path, shared: bool) -> None:  # type: ignore[no-untyped-def]
    folder = asset(with_subject=True, with_procedures=True)
    output = folder if shared else tmp_path / "out"
    first, second = _settings(folder, output, "first"), _settings(folder, output, "second")
    if shared:
        first = json.dumps({**json.loads(first), "metadata_dir": None})
        second = json.dumps({**json.loads(second), "metadata_dir": None})
    if shared:  # the first runs' outputs become the next ones' inputs (and kept originals): settle first
        _run_to_end(first, tmp_path)
        _run_to_end(second, tmp_path)
    _run_to_end(first, tmp_path)
    previous = _complete(_state(output))
    _run_to_end(second, tmp_path)
    new = _complete(_state(output))
    assert previous and new
    assert shared or previous != new
    _run_to_end(first, tmp_path)
    assert _complete(_state(output)) == previous
    step = 0
    while _kill_at_pause(second if step % 2 == 0 else first, tmp_path, step):
        state = _state(output)
        complete = _complete(state)
        # each file atomic, the report last: complete (the previous or the new result), or visibly
        # incomplete (no report) until a rerun; never a report beside files it does not describe
        where = "output = metadata folder" if shared else "own output folder"
        record(f"SIGKILL before a write step ({where})", complete is None or complete in (previous, new))
        assert complete is None or complete in (previous, new), f"a mix after a kill at step {step}"
        if shared:
            assert all(n in state for n in ("instrument_a.json", "subject.json")), "inputs were removed"
        _run_to_end(first, tmp_path)  # a rerun completes it
        assert _complete(_state(output)) == previous
        assert not list(output.glob(".*gather-tmp*")) and not list(tmp_path.glob(".*gather-tmp*"))
        step += 1
    assert step >= 1


FULL = os.environ.get("GATHER_TEST_FULL") == "1"
DELAYS = [0.2 + 0.05 * i for i in range(30)] if FULL else [0.2, 0.6, 0.9, 1.1, 1.3, 1.5]


@pytest.mark.slow
def test_sigkill_at_random_moments_never_leaves_a_mix(asset, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A bounded sample in CI (6 kills); GATHER_TEST_FULL=1 kills at 30 moments."""
    folder = asset(with_subject=True, with_procedures=True)
    output = tmp_path / "out"
    first, second = _settings(folder, output, "first"), _settings(folder, output, "second")
    _run_to_end(first, tmp_path)
    previous = _complete(_state(output))
    _run_to_end(second, tmp_path)
    new = _complete(_state(output))
    results: list[Any] = []
    for delay in DELAYS:
        proc = _start(first if len(results) % 2 else second, tmp_path, 0)
        time.sleep(delay)
        proc.kill()
        proc.wait(timeout=30)
        assert proc.stderr is not None
        proc.stderr.close()
        results.append(_complete(_state(output)))
    for result in results:  # complete (previous or new), or visibly incomplete: never a mix
        record("SIGKILL at a random moment", result is None or result in (previous, new))
    assert all(r is None or r in (previous, new) for r in results)
    _run_to_end(first, tmp_path)
    assert _complete(_state(output)) == previous  # a rerun completes it
