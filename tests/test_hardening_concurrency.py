"""Concurrent runs on one local output: one winner, no lost temporaries, no mix, whatever the interleaving.

Real processes (the CLI under `tests/support/launcher.py`), held between write steps by a gate, so
each interleaving is forced rather than hoped for: a second run is started once the first holds the
folder's lock, and released only once the kernel shows it waiting on that lock (/proc/locks).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import base_settings, snapshot, tree_hash
from tests.support import launcher
from tests.support.launcher import Gate
from tests.support.races import Job, environment, wait_until, waits_on_a_lock
from tests.support.reliability import record

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/locks, sends SIGKILL"),
]


def _settings(folder: Path, output: Path, summary: str, **overrides: Any) -> str:
    settings = base_settings(folder, output, None)
    settings["data_description_settings"]["data_summary"] = summary
    settings.update(overrides)
    return json.dumps({k: v for k, v in settings.items() if v is not None})


def _job(settings: str, cwd: Path, pause: float | str = 0) -> Job:
    return Job(launcher.command(pause, "run", "--job-settings", settings), cwd=cwd, env=environment())


def _temporaries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob(".*gather-tmp-*") if p.is_file())


def _complete(output: Path, inputs: set[str] = frozenset()) -> dict[str, Any] | None:  # type: ignore[assignment]
    """The report, when it lists exactly the files beside it (inputs aside) with their checksums; else None."""
    report_path = output / "gather_report.json"
    if not report_path.is_file():
        return None
    report: dict[str, Any] = json.loads(report_path.read_bytes())
    present = {
        str(p.relative_to(output))
        for p in output.rglob("*.json")
        if p.is_file() and not p.name.startswith(".") and p.name != "gather_report.json"
    }
    listed = set(report["files"])
    if not listed <= present or not present - listed <= inputs:
        return None
    for name, entry in report["files"].items():
        if hashlib.sha256((output / name).read_bytes()).hexdigest() != entry["sha256"]:
            return None
    return report


def _summary(report: dict[str, Any] | None) -> str | None:
    return None if report is None else report["settings"]["data_description_settings"]["data_summary"]


def test_two_runs_with_error_on_one_empty_output_exactly_one_wins(asset, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = asset(with_subject=True, with_procedures=True)
    output = tmp_path / "out"
    gate = Gate(tmp_path / "gate")
    first = _job(_settings(folder, output, "one", if_exists="error"), tmp_path, gate.pause)
    first.wait_for("test pause before")  # it holds the folder's lock, before its first write
    second = _job(_settings(folder, output, "two", if_exists="error"), tmp_path)
    # the second found no report when it started (if_exists passed), gathered, and now waits for the lock
    wait_until(lambda: waits_on_a_lock(second.pid), what="the second run to wait on the output folder's lock")
    gate.open()
    (code_1, err_1), (code_2, err_2) = first.finish(), second.finish()
    result = _complete(output)
    ok = (code_1, code_2) == (0, 5) and "already holds a gathered asset" in err_2 and _summary(result) == "one"
    record("2 processes, one local output, if_exists=error: one 0, one 5, the winner's result", ok)
    assert ok, (code_1, code_2, err_1[-800:], err_2[-800:])
    assert _temporaries(tmp_path) == []


def test_two_runs_into_the_metadata_folder_take_turns_and_keep_each_others_temporaries(  # type: ignore[no-untyped-def]
    asset, tmp_path: Path
) -> None:
    """output_dir = the metadata folder (the pipeline's staging folder): the second run waits for the lock
    while the first has a temporary in the folder; neither removes the other's files; both complete."""
    folder = asset(with_subject=True, with_procedures=True)
    parts = dict(snapshot(folder).items())
    settings = _settings(folder, folder, "shared", metadata_dir=None)
    for _ in range(2):  # settle: the first runs' outputs become the next ones' inputs
        assert _job(settings, tmp_path).finish()[0] == 0
    gate = Gate(tmp_path / "gate")
    first = _job(settings, tmp_path, gate.pause)
    first.wait_for("test pause before")
    gate.step(0)
    step = first.wait_for("test pause before")  # a replacement written, not yet renamed: its temporary exists
    held = _temporaries(folder)
    assert held, step
    second = _job(settings, tmp_path)
    wait_until(lambda: waits_on_a_lock(second.pid), what="the second run to wait on the folder's lock")
    still = all(path.exists() for path in held)  # the waiting run removed nothing of the live one
    gate.open()
    (code_1, err_1), (code_2, err_2) = first.finish(), second.finish()
    inputs = {name for name in snapshot(folder) if "/" not in name} - {"gather_report.json"}
    result = _complete(folder, inputs)
    kept = {name: data for name, data in snapshot(folder).items() if name in parts}
    ok = (code_1, code_2) == (0, 0) and still and result is not None and kept == parts
    record("2 processes into the metadata folder (output_dir = metadata_dir): both complete, temporaries kept", ok)
    assert ok, (code_1, code_2, still, err_1[-600:], err_2[-600:])
    assert _temporaries(folder) == []


def test_a_killed_runs_temporaries_are_removed_under_the_lock_not_by_their_pid(asset, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """What decides is the lock: every writer holds it while its temporaries exist, so under it any found
    is dead, even one whose name carries the PID of a live process (PIDs are reused; other hosts and
    containers have their own). A file that only looks like one is not ours and stays."""
    folder = asset(with_subject=True, with_procedures=True)
    output = tmp_path / "out"
    settings = _settings(folder, output, "one")
    assert _job(settings, tmp_path).finish()[0] == 0
    gate = Gate(tmp_path / "gate")
    killed = _job(settings, tmp_path, gate.pause)
    killed.wait_for("test pause before unlink-report")
    gate.step(0)
    killed.wait_for("test pause before original:")  # the kept inputs are written first
    killed.kill()  # SIGKILL with a temporary beside its target
    left = _temporaries(output)
    live = [
        output / f".subject.json.gather-tmp-{os.getpid()}-{os.urandom(6).hex()}",  # this test's PID: alive
        output / f".acquisition.json.gather-tmp-1-{os.urandom(6).hex()}",  # PID 1: alive
    ]
    for path in live:
        path.write_bytes(b"{}")
    lookalike = output / ".notes.gather-tmp-keep"
    lookalike.write_bytes(b"mine")
    code, err = _job(settings, tmp_path).finish()
    ok = code == 0 and bool(left) and _temporaries(output) == [lookalike] and _complete(output) is not None
    record("temporaries of a killed run (any PID in their name) removed by the next run under the lock", ok)
    assert ok, (code, left, _temporaries(output), err[-800:])


def test_an_invalid_run_waiting_for_a_valid_one_leaves_its_result_alone(asset, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    output = tmp_path / "out"
    valid, broken = asset(with_subject=True, with_procedures=True), asset("shared_device", with_subject=True)
    gate = Gate(tmp_path / "gate")
    first = _job(_settings(valid, output, "valid"), tmp_path, gate.pause)
    first.wait_for("test pause before")
    second = _job(_settings(broken, output, "invalid"), tmp_path)
    wait_until(lambda: waits_on_a_lock(second.pid), what="the invalid run to wait on the folder's lock")
    gate.open()
    (code_1, _), (code_2, err_2) = first.finish(), second.finish()
    result = _complete(output)
    ok = (code_1, code_2) == (0, 3) and _summary(result) == "valid" and "left as it was" in err_2
    record("an invalid run racing a valid one (local): the valid result stays whole", ok)
    assert ok, (code_1, code_2, err_2[-800:])


def test_an_invalid_rerun_with_a_report_copy_leaves_the_complete_result_untouched(asset, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    output, copy = tmp_path / "out", tmp_path / "reports" / "latest.json"
    assert _job(_settings(asset(with_subject=True, with_procedures=True), output, "good"), tmp_path).finish()[0] == 0
    before = tree_hash(output)
    broken = asset("shared_device", with_subject=True)
    code, err = _job(_settings(broken, output, "bad", report=str(copy)), tmp_path).finish()
    ok = code == 3 and tree_hash(output) == before and json.loads(copy.read_bytes())["status"] == "invalid"
    record("an invalid rerun over a complete local result (report copy elsewhere): result untouched", ok)
    assert ok, (code, err[-800:])
