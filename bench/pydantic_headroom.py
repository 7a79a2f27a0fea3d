"""What the 1x CPU target waits for: the same job, same locks, under a newer pydantic.

    python bench/pydantic_headroom.py [--pydantic 2.14.4] [--runs 9]

At 1x, importing aind-data-schema's models is most of a run, and that import is pydantic building
schemas. aind-data-schema 2.9.2 (the newest release) declares `pydantic<2.12`, so the project's locks
hold pydantic 2.11.10 and the project never ships anything else. This script measures what a release
of the library allowing a newer pydantic would give, and whether gather-job's output would change:

1. builds bench/.work/pydantic-<V>/, a venv with the project's locks except pydantic and what pydantic
   itself requires (installed against the library's declared range with `--no-deps`: a measurement
   only; `pip check` there reports the conflict, and the result records it);
2. runs, interleaved, the reference, gather-job and the floor (bench/floor.py) in the project's venv,
   and gather-job and the floor in that venv, on bench/run.py's 1x asset and fake service;
3. runs each gather-job once more and compares the files they write (the report's timings and paths
   aside): a difference means the newer pydantic changes what the pipeline gets;
4. prints CPU medians and ratios to the reference and writes bench/results/pydantic-headroom.json.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import scenarios  # noqa: E402
from bench.run import (  # noqa: E402
    WORK,
    Bench,
    Prepared,
    child_env,
    ensure_reference,
    machine,
    medians,
    prepare,
    start_service,
    versions,
)

# pydantic's own requirements come with it; the rest of the lock goes in unchanged
_WITH_PYDANTIC = {"pydantic", "pydantic-core", "typing-extensions", "annotated-types", "typing-inspection"}
_REPORT_VARIES = ("finished_at", "timings_s")  # the clock and the stage timings


def _name(requirement: str) -> str:
    return requirement.split("==")[0].strip().lower().replace("_", "-")


def build_venv(version: str) -> Path:
    """bench/.work/pydantic-<version> with the project's locks but that pydantic; its gather-job."""
    where = WORK / f"pydantic-{version}"
    python = where / "bin" / "python"
    if not python.exists():
        print(f"building {where.relative_to(ROOT)} ...", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(where)
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, f"pydantic=={version}"], check=True)
        lines = (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines()
        rest = [x for x in lines if x.strip() and not x.startswith("#") and _name(x) not in _WITH_PYDANTIC]
        lock = where / "rest-of-the-lock.txt"
        lock.write_text("\n".join(rest) + "\n", encoding="utf-8")
        subprocess.run([*pip, "--no-deps", "-r", str(lock)], check=True)
    # the project itself, as it is now (not editable: the venv measures this commit)
    quiet = ["--quiet", "--disable-pip-version-check"]
    reinstall = [str(python), "-m", "pip", "install", *quiet, "--no-deps", "--force-reinstall", str(ROOT)]
    subprocess.run(reinstall, check=True, cwd=WORK)
    return where / "bin"


def pip_check(bin_dir: Path) -> str:
    done = subprocess.run([str(bin_dir / "python"), "-m", "pip", "check"], capture_output=True, text=True, check=False)
    return (done.stdout + done.stderr).strip()


def _written(folder: Path) -> dict[str, Any]:
    """What a run wrote, by relative path; the report without what varies from run to run."""
    out: dict[str, Any] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        key = str(path.relative_to(folder))
        if key == "gather_report.json":
            report = json.loads(path.read_text(encoding="utf-8"))
            out[key] = {k: v for k, v in report.items() if k not in _REPORT_VARIES}
        else:
            out[key] = path
    return out


def differences(one: Bench, other: Bench, asset: Prepared, url: str) -> list[str]:
    """Files the two gather-jobs write differently on the same asset (empty when they agree)."""
    outputs = []
    for name, bench in (("lock", one), ("newer", other)):
        folder = WORK / "headroom-outputs" / name
        shutil.rmtree(folder.parent / name, ignore_errors=True)
        folder.mkdir(parents=True)
        settings = folder / "settings.json"
        settings.write_text(json.dumps(scenarios.settings(asset.metadata, folder / "out", url)), encoding="utf-8")
        cmd = [str(bench.ours), "run", "--settings-file", str(settings)]
        subprocess.run(cmd, env=bench.env, cwd=folder, capture_output=True, check=False)
        outputs.append(_written(folder / "out"))
    a, b = outputs
    differ = sorted(set(a) ^ set(b))
    for key in sorted(set(a) & set(b)):
        same = a[key] == b[key] if isinstance(a[key], dict) else filecmp.cmp(a[key], b[key], shallow=False)
        if not same:
            differ.append(key)
    return differ


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pydantic", default="2.14.4", help="the newer pydantic to measure (default 2.14.4)")
    parser.add_argument("--runs", type=int, default=9, help="interleaved rounds (default 9)")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "pydantic-headroom.json")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = machine()  # the load average at the start; the end's is added after the runs
    here = Path(sys.executable).parent
    newer_bin = build_venv(args.pydantic)
    ref_python = ensure_reference()
    asset = prepare(1)
    env = child_env()
    lock = Bench(ref_python, here / "gather-job", here / "python", env, WORK / "runs-headroom" / "lock")
    newer = Bench(ref_python, newer_bin / "gather-job", newer_bin / "python", env, WORK / "runs-headroom" / "newer")
    service = start_service(asset.routes, 0.0)
    jobs = {
        "reference": lambda: lock.ref(asset, service.url),
        "gather-job": lambda: lock.our_job(asset, service.url),
        "floor": lambda: lock.floor(asset, service.url),
        f"gather-job, pydantic {args.pydantic}": lambda: newer.our_job(asset, service.url),
        f"floor, pydantic {args.pydantic}": lambda: newer.floor(asset, service.url),
    }
    try:
        print("warming up (not counted) ...", flush=True)
        for job in jobs.values():
            job()
        samples: dict[str, list[Any]] = {name: [] for name in jobs}
        print(f"1x, {args.runs} interleaved rounds: ", end="", flush=True)
        for _ in range(args.runs):
            for name, job in jobs.items():
                samples[name].append(job())
            print(".", end="", flush=True)
        print()
        differ = differences(lock, newer, asset, service.url)
    finally:
        service.stop()
    cells = {name: medians(s) for name, s in samples.items()}
    ref_cpu = cells["reference"].get("cpu_s")
    ratios = {n: round(c["cpu_s"] / ref_cpu, 3) for n, c in cells.items() if c.get("n") and ref_cpu}
    command = "python bench/pydantic_headroom.py " + " ".join(argv if argv is not None else sys.argv[1:])
    results = {
        "machine": {**started, "load_average_end": os.getloadavg()},
        "versions": {**versions(ref_python), f"pydantic (pydantic-{args.pydantic} venv)": args.pydantic},
        "runs": args.runs,
        "medians": cells,
        "cpu_ratio_to_reference": ratios,
        "outputs_that_differ": differ,
        "pip_check_of_the_newer_venv": pip_check(newer_bin),
        "command": command.strip(),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    width = max(len(n) for n in cells)
    for name, cell in cells.items():
        ratio = ratios.get(name)
        tail = f"  {ratio:.3f} of the reference" if ratio is not None and name != "reference" else ""
        print(f"{name:{width}}  CPU {cell.get('cpu_s', float('nan')):.3f} s  RSS {cell.get('rss_mb', 0):.0f} MB{tail}")
    print(f"outputs that differ: {', '.join(differ) or 'none'}")
    print(f"pip check in the newer venv: {results['pip_check_of_the_newer_venv'] or 'no conflict'}")
    print(f"results: {args.output.relative_to(ROOT)}")
    return 1 if any(c.get("failed") for c in cells.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
