"""Benchmark gather-job against the reference GatherMetadataJob and the floor, side by side.

    python bench/run.py [--sizes 1,10,100,300] [--runs 5] [--latency 0,0.3] [--quick]

Run from the repository root with the project's venv (`pip install -e '.[test,bench]'`). It

1. builds the scenario at each size with aind-data-schema's models (bench/scenarios.py; cached in
   bench/.work/assets/, rebuilt when the builder or the schema version changes);
2. installs the reference (aind-metadata-mapper 1.4.0 from PyPI) into bench/.work/ref-venv if absent;
3. starts a fake metadata service on 127.0.0.1 (tests/support/fake_service.py) per latency, answering
   subject, procedures, funding, investigators and the reference's two enrichment endpoints;
4. runs the reference, gather-job and the floor (bench/floor.py) as child processes, interleaved
   (ref, ours, floor, ref, ours, floor, ...), each run on a fresh copy / fresh output folder, and
   takes wall (perf_counter), CPU (user+sys) and peak RSS (ru_maxrss) of each child from os.wait4;
5. prints a table of medians and ratios with the issue's targets, writes bench/results/latest.json,
   docs/performance.png and the generated part of docs/performance.md.

Service latency cells (latency > 0) run at the --latency-sizes only (default: the smallest size);
the floor does no network, so those cells reuse the floor of the same size at latency 0.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The measuring and statistics live in bench/measure.py, the tables, plot and docs page in
# bench/report.py; both are re-exported here (`run.measure`, `run.child_env`, `run.table`, ...).
from bench import scenarios  # noqa: E402
from bench.measure import (  # noqa: E402
    CPU_TARGETS,
    JOBS,
    WORK,
    Sample,
    Target,
    _median_dicts,
    _version,
    child_env,
    machine,
    measure,
    medians,
    targets,
    versions,
)
from bench.report import BEGIN, DOCS, END, LABELS, _cell_text, plot, stage_table, table, write_docs  # noqa: E402
from tests.support.fake_service import FakeMetadataService, Route  # noqa: E402

RESULTS = ROOT / "bench" / "results"
REFERENCE = "aind-metadata-mapper==1.4.0"
REF_VENV = WORK / "ref-venv"

__all__ = [
    "BEGIN",
    "CPU_TARGETS",
    "DOCS",
    "END",
    "JOBS",
    "LABELS",
    "REFERENCE",
    "REF_VENV",
    "RESULTS",
    "ROOT",
    "WORK",
    "Bench",
    "Prepared",
    "Sample",
    "Target",
    "child_env",
    "ensure_reference",
    "machine",
    "main",
    "measure",
    "medians",
    "parse_args",
    "plot",
    "prepare",
    "stage_table",
    "start_service",
    "table",
    "targets",
    "versions",
    "write_docs",
]


# -- the reference's venv --------------------------------------------------------------------------


def ensure_reference() -> Path:
    """bench/.work/ref-venv with aind-metadata-mapper 1.4.0 (never a dependency of the project)."""
    python = REF_VENV / "bin" / "python"
    wanted = REFERENCE.split("==")[1]
    if python.exists() and _version(python, "aind-metadata-mapper") == wanted:
        return python
    print(f"installing the reference ({REFERENCE}) into {REF_VENV.relative_to(ROOT)} ...", flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(REF_VENV)
    subprocess.run([str(python), "-m", "pip", "install", "-q", REFERENCE], check=True)
    return python


# -- assets ----------------------------------------------------------------------------------------


@dataclass
class Prepared:
    scale: int
    folder: Path  # holds metadata/ and service/ (the service's answers as files, for the floor)
    input_bytes: int
    sizes: dict[str, int]
    routes: dict[str, Any]

    @property
    def metadata(self) -> Path:
        return self.folder / "metadata"

    @property
    def service(self) -> Path:
        return self.folder / "service"


def _asset_key() -> str:
    import hashlib

    digest = hashlib.sha256()
    for builder in sorted((ROOT / "bench").glob("scenario*.py")):  # scenarios.py and its scenario_*.py parts
        digest.update(builder.read_bytes())
    digest.update(str(_version(Path(sys.executable), "aind-data-schema")).encode())
    return digest.hexdigest()[:16]


def prepare(scale: int) -> Prepared:
    folder = WORK / "assets" / f"x{scale}"
    stamp = folder / "asset.json"
    key = _asset_key()
    if stamp.exists():
        info = json.loads(stamp.read_text())
        if info.get("key") == key:
            return Prepared(scale, folder, info["input_bytes"], info["sizes"], info["routes"])
    print(f"building the {scale}x asset ...", flush=True)
    shutil.rmtree(folder, ignore_errors=True)
    asset = scenarios.build(scale)
    scenarios.write(asset, folder / "metadata")
    service = folder / "service"
    service.mkdir(parents=True)
    for kind, path in scenarios.SERVICE_PATHS.items():
        (service / f"{kind}.json").write_text(json.dumps(asset.service[path]))
    (service / "settings.json").write_text(json.dumps(scenarios.settings(Path("."), Path("."), "")))
    info = {"key": key, "input_bytes": asset.input_bytes, "sizes": asset.sizes(), "routes": asset.service}
    stamp.write_text(json.dumps(info))
    return Prepared(scale, folder, asset.input_bytes, asset.sizes(), asset.service)


def start_service(routes: dict[str, Any], latency: float) -> FakeMetadataService:
    return FakeMetadataService({path: Route(200, body) for path, body in routes.items()}, latency=latency).start()


# -- one run of each job ---------------------------------------------------------------------------


@dataclass
class Bench:
    ref_python: Path
    ours: Path  # the gather-job console script of the project's venv
    python: Path  # the project's interpreter (for the floor)
    env: dict[str, str]
    scratch: Path
    count: int = 0

    def _fresh(self, job: str) -> Path:
        self.count += 1
        folder = self.scratch / f"{self.count:04d}-{job}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        return folder

    def run(self, job: str, asset: Prepared, url: str) -> Sample:
        return {"ref": self.ref, "ours": self.our_job, "floor": self.floor}[job](asset, url)

    def ref(self, asset: Prepared, url: str) -> Sample:
        run = self._fresh("ref")
        metadata = run / "metadata"
        shutil.copytree(asset.metadata, metadata)  # it writes into its input folder: a fresh copy each run
        settings = scenarios.settings(metadata, run / "out", url)
        cmd = [
            str(self.ref_python),
            "-m",
            "aind_metadata_mapper.gather_metadata",
            "--job-settings",
            json.dumps(settings),
        ]
        sample = measure(cmd, env=self.env, cwd=run, log=run / "log.txt")
        if sample.code == 0 and not (run / "out" / "acquisition.json").is_file():
            sample.code = -1  # finished without writing: not a fair comparison
        return self._done(run, sample)

    def our_job(self, asset: Prepared, url: str) -> Sample:
        run = self._fresh("ours")
        settings_file = run / "settings.json"
        settings_file.write_text(json.dumps(scenarios.settings(asset.metadata, run / "out", url)))
        sample = measure(
            [str(self.ours), "run", "--settings-file", str(settings_file)], env=self.env, cwd=run, log=run / "log.txt"
        )
        report = run / "out" / "gather_report.json"
        if report.is_file():
            data = json.loads(report.read_text())
            sample.extra = {"timings_s": data.get("timings_s", {}), "summary": data.get("summary", {})}
        return self._done(run, sample)

    def floor(self, asset: Prepared, url: str) -> Sample:
        run = self._fresh("floor")
        cmd = [str(self.python), str(ROOT / "bench" / "floor.py"), str(asset.metadata), str(asset.service), "--split"]
        sample = measure(cmd, env=self.env, cwd=run, log=run / "log.txt")
        lines = (run / "log.txt").read_text(errors="replace").strip().splitlines()
        if sample.code == 0 and lines and lines[-1].startswith("{"):
            sample.extra = {"split_s": json.loads(lines[-1])}
        return self._done(run, sample)

    def cli(self, args: Sequence[str], python: Path | None = None) -> Sample:
        run = self._fresh("cli")
        cmd = [str(python), "-m", "aind_metadata_mapper.gather_metadata", *args] if python else [str(self.ours), *args]
        return self._done(run, measure(cmd, env=self.env, cwd=run, log=run / "log.txt"))

    def _done(self, run: Path, sample: Sample) -> Sample:
        if sample.code != 0:
            tail = (run / "log.txt").read_text(errors="replace")[-1500:]
            sample.extra["failure"] = tail
            print(f"\n  FAILED (exit {sample.code}) in {run}:\n{tail}", file=sys.stderr)
        else:
            shutil.rmtree(run, ignore_errors=True)
        return sample


# -- the run ---------------------------------------------------------------------------------------


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=None, help="scale factors (default 1,10,100,300; --quick: 1,10)")
    parser.add_argument("--runs", type=int, default=None, help="runs per job and cell (default 9; --quick: 2)")
    parser.add_argument("--large-runs", type=int, default=9, help="runs per job at sizes >= 300 (default 9)")
    parser.add_argument("--latency", default="0,0.3", help="service latencies in seconds (default 0,0.3)")
    parser.add_argument("--latency-sizes", default=None, help="sizes that get the latency > 0 cells (default smallest)")
    parser.add_argument("--cli-runs", type=int, default=None, help="runs of --version/--help (default --runs)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: sizes 1,10, 2 runs, no docs update")
    parser.add_argument(
        "--bulk-assets", type=int, default=300, help="re-check this many small assets three ways (0: skip)"
    )
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/performance.{md,png}")
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json", help="machine-readable results")
    parser.add_argument("--render", type=Path, metavar="JSON", help="only redraw the table, plot and docs from results")
    args = parser.parse_args(argv)
    if args.quick:
        args.no_docs = True
        args.bulk_assets = min(args.bulk_assets, 20)
    args.sizes = args.sizes or ("1,10" if args.quick else "1,10,100,300")
    args.runs = args.runs or (2 if args.quick else 9)
    args.large_runs = min(args.large_runs, args.runs)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render:
        results = json.loads(args.render.read_text())
        print(table(results))
        plot(results, DOCS / "performance.png")
        write_docs(results, results.get("command", "python bench/run.py"))
        return 0
    sizes = [int(x) for x in _floats(args.sizes)]
    latencies = _floats(args.latency)
    latency_sizes = [int(x) for x in _floats(args.latency_sizes)] if args.latency_sizes else [min(sizes)]
    bin_dir = Path(sys.executable).parent
    ours = bin_dir / "gather-job"
    if not ours.exists():
        print(f"{ours} is missing: run from the project's venv (pip install -e '.[test,bench]').", file=sys.stderr)
        return 2
    ref_python = ensure_reference()
    assets = {scale: prepare(scale) for scale in sizes}
    scratch = WORK / "runs"
    shutil.rmtree(scratch, ignore_errors=True)
    (WORK / "tmp").mkdir(parents=True, exist_ok=True)
    bench = Bench(ref_python, ours, Path(sys.executable), child_env(), scratch)
    results: dict[str, Any] = {
        "machine": machine(),
        "versions": versions(ref_python),
        "runs": args.runs,
        "cells": [],
        "cli": {},
    }
    if any(s >= 300 for s in sizes) and args.large_runs != args.runs:
        results["runs_note"] = f" ({args.large_runs} at sizes >= 300x: each reference run there takes tens of seconds)"
    plan = [(scale, 0.0) for scale in sizes] if 0.0 in latencies else []
    plan += [(scale, lat) for lat in latencies if lat > 0 for scale in latency_sizes if scale in assets]
    services = {lat: start_service(assets[sizes[0]].routes, lat) for lat in {lat for _, lat in plan}}
    try:
        print("warming up (compiles .pyc, fills the page cache; not counted) ...", flush=True)
        for job in JOBS:
            bench.run(job, assets[sizes[0]], services[plan[0][1]].url)
        floors: dict[int, dict[str, Any]] = {}
        for scale, latency in plan:
            asset, url = assets[scale], services[latency].url
            runs = args.large_runs if scale >= 300 else args.runs
            jobs = [j for j in JOBS if not (j == "floor" and latency > 0)]
            samples: dict[str, list[Sample]] = {job: [] for job in jobs}
            print(f"{scale}x, latency {latency:g} s, {asset.input_bytes / 1e6:.2f} MB: ", end="", flush=True)
            for _ in range(runs):
                for job in jobs:
                    samples[job].append(bench.run(job, asset, url))
                    print(job[0], end="", flush=True)
            cell: dict[str, Any] = {
                "scale": scale,
                "latency": latency,
                "input_bytes": asset.input_bytes,
                "sizes": asset.sizes,
                "load_average": os.getloadavg(),
                "samples": {job: [asdict(s) for s in ss] for job, ss in samples.items()},
                "medians": {job: medians(ss) for job, ss in samples.items()},
            }
            ours_timings = [s.extra["timings_s"] for s in samples["ours"] if "timings_s" in s.extra]
            cell["ours_timings_s"] = _median_dicts(ours_timings) if ours_timings else {}
            if "floor" in samples:
                splits = [s.extra["split_s"] for s in samples["floor"] if "split_s" in s.extra]
                cell["floor_split_s"] = _median_dicts(splits) if splits else {}
                floors[scale] = cell["medians"]["floor"]
            elif scale in floors:
                cell["medians"]["floor"] = floors[scale]
                cell["floor_from_latency0"] = True
            results["cells"].append(cell)
            m = cell["medians"]
            print("  " + " | ".join(f"{job} {_cell_text(m.get(job))}" for job in JOBS))
        cli_runs = args.cli_runs or args.runs
        for name, flag in (("version", "--version"), ("help", "--help")):
            results["cli"][f"ours_{name}"] = medians([bench.cli([flag]) for _ in range(cli_runs)])
        results["cli"]["ref_help"] = medians([bench.cli(["--help"], ref_python) for _ in range(cli_runs)])
        if args.bulk_assets:
            from bench import bulk

            print(f"re-checking {args.bulk_assets} small assets three ways ...", flush=True)
            results["bulk"] = bulk.measure(args.bulk_assets)
    finally:
        for service in services.values():
            service.stop()
    results["machine"]["load_average_end"] = os.getloadavg()
    results["command"] = ("python bench/run.py " + " ".join(argv if argv is not None else sys.argv[1:])).strip()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=1) + "\n")
    print()
    print(table(results))
    print()
    print(stage_table(results))
    if "bulk" in results:
        from bench import bulk

        print()
        print(bulk.table(results["bulk"]))
    print(f"\nresults: {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}")
    if not args.no_docs:
        plot(results, DOCS / "performance.png")
        print(f"plot: docs/performance.png; page: {write_docs(results, results['command']).relative_to(ROOT)}")
    failed = any(m.get("failed") for c in results["cells"] for m in c["medians"].values() if m)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
