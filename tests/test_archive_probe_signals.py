"""A many-asset check stopped by SIGTERM (a Batch or Slurm time-out, `docker stop`, `scancel`) or Ctrl-C:
the results so far are kept (an `s3://` output uploaded), the verdict says where and how to go on, no
worker prints a traceback, exit 130, and `--resume` then checks every asset exactly once."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures import assets
from tests.support.aws_fixtures import REGION, Aws

COUNT = 300


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    root = tmp_path / "archive"
    assets.write_asset(root / "asset-000", "valid")
    for i in range(1, COUNT):
        shutil.copytree(root / "asset-000", root / f"asset-{i:03d}")
    return root


def _stopped(argv: list[str], how: signal.Signals, tmp_path: Path, *, group: bool) -> tuple[int, str]:
    """Run gather-job, send `how` once it has checked some assets, and return its exit code and stderr."""
    err = tmp_path / "stderr.txt"
    with err.open("w") as stream:
        process = subprocess.Popen(
            [sys.executable, "-m", "gather_job", *argv],
            stdout=subprocess.DEVNULL,
            stderr=stream,
            start_new_session=True,
            cwd=tmp_path,
        )
        deadline = time.monotonic() + 60
        while "assets checked" not in err.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        (os.killpg if group else os.kill)(process.pid, how)
        code = process.wait(timeout=60)
    return code, err.read_text()


def _assets_in(text: str) -> list[str]:
    found = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("type") == "asset":
            found.append(record["asset"])
    return found


@pytest.mark.slow
@pytest.mark.parametrize(("how", "group"), [(signal.SIGTERM, False), (signal.SIGINT, True), (signal.SIGTERM, True)])
def test_a_stopped_run_keeps_its_results_and_resume_finishes_it(
    archive: Path, tmp_path: Path, how: signal.Signals, group: bool
) -> None:
    results = tmp_path / "r.jsonl"
    argv = ["check", "--each", str(archive), "--offline", "--jobs", "2", "--format", "jsonl", "--output", str(results)]
    code, err = _stopped(argv, how, tmp_path, group=group)
    assert code == 130, err
    assert "Traceback" not in err and "BrokenPipeError" not in err and "KeyboardInterrupt" not in err, err
    last = err.rstrip().splitlines()[-1]
    assert last.startswith(f"gather-job: verdict: interrupted by {how.name} after") and str(results) in last
    assert f"--resume {results}" in last and "nothing was written" not in err
    first = _assets_in(results.read_text())
    assert 0 < len(first) < COUNT
    summary = json.loads(results.read_text().splitlines()[-1])
    assert summary["type"] == "summary" and summary["interrupted"] == how.name
    done = subprocess.run(
        [sys.executable, "-m", "gather_job", *argv, "--resume", str(results)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    every = _assets_in(results.read_text())
    assert sorted(every) == sorted(str(p) for p in archive.iterdir()) and len(every) == len(set(every)) == COUNT


@pytest.mark.slow
def test_sigterm_uploads_the_results_so_far_to_s3(aws: Aws, aws_env: Any, archive: Path, tmp_path: Path) -> None:
    bucket = aws.bucket("ops")
    settings = tmp_path / "aws.json"
    settings.write_text(json.dumps({"s3_endpoint_url": aws.url, "aws_region": REGION}))
    output = f"s3://{bucket}/term.jsonl"
    argv = ["check", "--each", str(archive), "--offline", "--jobs", "2", "--settings-file", str(settings)]
    code, err = _stopped([*argv, "--output", output], signal.SIGTERM, tmp_path, group=False)
    assert code == 130 and "Traceback" not in err, err
    assert f"results so far: {output}" in err and "gather-job-results-" not in err
    stored = aws.objects(bucket)["term.jsonl"].decode()
    assert 0 < len(_assets_in(stored)) < COUNT


def test_ending_the_pool_never_waits_for_a_lock_a_killed_worker_held() -> None:
    """An idle worker waits for its next task holding the task queue's read lock; killed there (the end's
    watchdog kills stragglers), it never gives it back, and `Pool.terminate` waits for that lock: the run
    hung for ever (a CI run stopped by SIGTERM timed out). Once no worker is alive, the lock is released."""
    import multiprocessing
    import threading

    from gather_job.archive import workers

    pool = multiprocessing.get_context("fork").Pool(2)
    time.sleep(0.5)  # idle: one worker blocks in the task queue's read, holding its lock
    for worker in list(pool._pool):  # type: ignore[attr-defined]
        worker.kill()
        worker.join()
    ending = threading.Thread(target=workers._end_pool, args=(pool, 0.2), daemon=True)
    ending.start()
    ending.join(15)
    assert not ending.is_alive()
