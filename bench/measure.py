"""Measuring the benchmark's child processes, and the statistics and targets of their samples.

`measure` runs one command through bench/_spawn.py and returns its wall time, CPU time and peak RSS
(a `Sample`); `child_env` is the clean environment every job runs in. `machine` and `versions` record
what the runs ran on. `medians` sums up a cell's samples, `targets` checks a cell against the issue's
targets. bench/run.py re-exports all of it.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
JOBS = ("ref", "ours", "floor")
CPU_TARGETS = {1: 0.70, 100: 0.32, 300: 0.27}  # medians of CPU time, ours / reference


# -- measuring one child process -------------------------------------------------------------------


@dataclass
class Sample:
    wall_s: float
    cpu_s: float
    rss_mb: float
    code: int
    extra: dict[str, Any] = field(default_factory=dict)


def measure(cmd: Sequence[str], *, env: dict[str, str], cwd: Path, log: Path) -> Sample:
    """Run `cmd` to completion through bench/_spawn.py: wall, CPU and peak RSS of that child alone."""
    spawn = [sys.executable, "-S", "-E", str(ROOT / "bench" / "_spawn.py"), str(cwd), str(log), *cmd]
    done = subprocess.run(spawn, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=True)
    return Sample(**json.loads(done.stdout))


def child_env() -> dict[str, str]:
    """A clean environment: no GATHER_* for us, no OUTPUT_DIR/SUBJECT_ID etc. for the reference."""
    home = WORK / "home"
    home.mkdir(parents=True, exist_ok=True)
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8", "TMPDIR": str(WORK / "tmp")}


# -- what the runs ran on -------------------------------------------------------------------------


def _version(python: Path, dist: str) -> str | None:
    code = f"import importlib.metadata as m; print(m.version({dist!r}))"
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else None


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo", encoding="utf-8") as handle:
        memory_kb = int(handle.readline().split()[1])
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "gather_job_commit": commit.strip(),
        "load_average_start": os.getloadavg(),
    }


def versions(ref_python: Path) -> dict[str, Any]:
    here = Path(sys.executable)
    return {
        "gather-job": _version(here, "gather-job"),
        "aind-data-schema (ours)": _version(here, "aind-data-schema"),
        "pydantic (ours)": _version(here, "pydantic"),
        "aind-metadata-mapper (reference)": _version(ref_python, "aind-metadata-mapper"),
        "aind-data-schema (reference)": _version(ref_python, "aind-data-schema"),
        "pydantic (reference)": _version(ref_python, "pydantic"),
    }


# -- statistics and targets ------------------------------------------------------------------------


def medians(samples: list[Sample]) -> dict[str, float]:
    ok = [s for s in samples if s.code == 0]
    if not ok:
        return {"n": 0, "failed": len(samples)}
    out = {key: round(statistics.median(getattr(s, key) for s in ok), 3) for key in ("wall_s", "cpu_s", "rss_mb")}
    out["wall_min_s"] = min(s.wall_s for s in ok)
    out["wall_max_s"] = max(s.wall_s for s in ok)
    out["n"] = len(ok)
    out["failed"] = len(samples) - len(ok)
    return out


def _median_dicts(dicts: list[dict[str, float]]) -> dict[str, float]:
    keys = list(dict.fromkeys(k for d in dicts for k in d))  # in stage order
    return {k: round(statistics.median(d[k] for d in dicts if k in d), 4) for k in keys}


@dataclass
class Target:
    what: str
    value: float
    limit: float

    @property
    def ok(self) -> bool:
        return self.value <= self.limit

    def show(self) -> str:
        return f"{self.what} {self.value:.2f} <= {self.limit:g}: {'PASS' if self.ok else 'FAIL'}"


def targets(cell: dict[str, Any]) -> list[Target]:
    """The issue's targets for this cell (none for sizes the issue does not name)."""
    m = cell["medians"]
    ref, ours, _floor = (m.get(job) if m.get(job, {}).get("n") else None for job in JOBS)
    if not (ref and ours):
        return []
    scale, latency = cell["scale"], cell["latency"]
    out: list[Target] = []
    if latency == 0 and scale in CPU_TARGETS:  # CPU (user+sys): the machine is shared, wall swings by 40%
        out.append(Target("CPU ours/ref", ours["cpu_s"] / ref["cpu_s"], CPU_TARGETS[scale]))
    if latency == 0 and scale in (100, 300):
        out.append(Target("RSS ours/ref", ours["rss_mb"] / ref["rss_mb"], 1.0))
    if scale == 1 and latency > 0:
        out.append(Target("wall ours/ref", ours["wall_s"] / ref["wall_s"], 0.5))
    return out
