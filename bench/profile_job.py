"""Where gather-job's time goes: one run in-process on a benchmark asset, with stage timers and counters.

    python bench/profile_job.py --scale 100 [--latency 0] [--cprofile OUT.prof] [--top 30]

Nothing in src/ is changed: the job's own module functions (load.validate, merge.merge,
cross_checks.check_*, target.serialize, ...) and aind-data-schema's entry points (model_validate*,
constructors, the recursive validators) are wrapped from outside, so each is timed and counted.
The numbers are inclusive (a stage that calls another includes it), and the wrappers cost a few
microseconds per call. With --cprofile the run is also profiled (cProfile slows pure-Python code
such as the library's recursive validators about 2x, so read its shares, not its seconds).
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import io
import json
import pstats
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECONDS: dict[str, float] = defaultdict(float)
CALLS: dict[str, int] = defaultdict(int)
VALIDATED: dict[str, list[str]] = defaultdict(list)  # model class -> how each validation was entered
_DEPTH: dict[str, int] = defaultdict(int)


def _timed(key: str | Callable[..., str], func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        name = key(*args, **kwargs) if callable(key) else key
        CALLS[name] += 1
        _DEPTH[name] += 1
        started = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            _DEPTH[name] -= 1
            if _DEPTH[name] == 0:  # count recursion once
                SECONDS[name] += time.perf_counter() - started

    return wrapper


def _patch(owner: Any, name: str, key: str | Callable[..., str]) -> None:
    setattr(owner, name, _timed(key, getattr(owner, name)))


def instrument_job() -> None:
    """Wrap the job's stages and the library's entry points (after the models are imported)."""
    from gather_job import job, render, report
    from gather_job.pipeline import (
        cross_checks,
        data_description,
        devices,
        documents,
        fold,
        load,
        merge,
        time_constraints,
    )
    from gather_job.storage import target

    _patch(load, "decode_json", lambda label, raw, findings: f"job: decode_json {label}")
    _patch(load, "validate", lambda kind, label, data, findings: f"job: load.validate {label}")
    _patch(merge, "merge", lambda kind, docs, findings: f"job: merge.merge {kind}")
    _patch(fold, "fold_instruments", "job: fold.fold_instruments")
    _patch(fold, "fold_acquisitions", "job: fold.fold_acquisitions")
    for name in ("check_metadata", "check_subject_ids", "check_start_time", "check_modalities"):
        _patch(cross_checks, name, f"job: cross_checks.{name}")
    _patch(devices, "check_devices", "job: devices.check_devices")
    _patch(data_description, "build", "job: data_description.build")
    _patch(job, "serialize", lambda doc: f"job: job.serialize {doc.kind}")
    _patch(job, "checksums", "job: job.checksums")
    _patch(target.LocalTarget, "write", "job: target.LocalTarget.write")
    _patch(time_constraints, "check", "job: time_constraints.check")
    _patch(documents, "device_names", "job: documents.device_names")
    _patch(report, "build_report", "job: report.build_report")
    _patch(report, "dumps", "job: report.dumps")
    _patch(job, "_report", "job: job._report (settings dump, sources, findings)")
    _patch(render, "summary", "job: render.summary (stderr rendering)")

    import aind_data_schema.base as base
    from aind_data_schema.core import instrument as instrument_module
    from aind_data_schema.core.acquisition import Acquisition
    from aind_data_schema.core.data_description import DataDescription
    from aind_data_schema.core.instrument import Instrument
    from aind_data_schema.core.metadata import Metadata
    from aind_data_schema.core.procedures import Procedures
    from aind_data_schema.core.subject import Subject
    from aind_data_schema.utils import validators

    def top_level(data: Any, *args: Any) -> str:
        return f"lib: recursive_coord_system_check on {type(data).__name__}"

    base.recursive_coord_system_check = _timed(top_level, base.recursive_coord_system_check)
    instrument_module.recursive_get_all_names = _timed(
        "lib: recursive_get_all_names (Instrument.get_component_names)", instrument_module.recursive_get_all_names
    )
    validators.recursive_time_validation_check = _timed(
        "lib: recursive_time_validation_check", validators.recursive_time_validation_check
    )
    for cls in (Instrument, Acquisition, Subject, Procedures, DataDescription, Metadata):
        _count_validations(cls)
    for cls in (Instrument, Acquisition):
        _patch(cls, "model_dump_json", f"lib: {cls.__name__}.model_dump_json")
    _patch(Instrument, "get_component_names", "lib: Instrument.get_component_names")


def _count_validations(cls: Any) -> None:
    name = cls.__name__
    original_init = cls.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        VALIDATED[name].append("constructor")
        original_init(self, *args, **kwargs)

    cls.__init__ = _timed(f"lib: {name}(...) constructor", init)
    for method in ("model_validate", "model_validate_json"):
        bound = getattr(cls, method)

        def entry(*args: Any, _bound: Any = bound, _method: str = method, **kwargs: Any) -> Any:
            VALIDATED[name].append(_method)
            return _bound(*args, **kwargs)

        setattr(cls, method, _timed(f"lib: {name}.{method}", entry))


def run_once(scale: int, latency: float, profile: cProfile.Profile | None) -> tuple[int, float, dict[str, Any]]:
    from bench import run as bench_run
    from bench import scenarios

    asset = bench_run.prepare(scale)
    service = bench_run.start_service(asset.routes, latency)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            settings_file = Path(scratch) / "settings.json"
            output = Path(scratch) / "out"
            settings_file.write_text(json.dumps(scenarios.settings(asset.metadata, output, service.url)))
            from gather_job.cli import main

            started = time.perf_counter()
            if profile is not None:
                profile.enable()
            code = main(["run", "--settings-file", str(settings_file)], environ={})
            if profile is not None:
                profile.disable()
            elapsed = time.perf_counter() - started
            timings = json.loads((output / "gather_report.json").read_text())["timings_s"]
    finally:
        service.stop()
    return code, elapsed, timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--cprofile", type=Path, help="also write cProfile stats here (and print the top)")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()

    started = time.perf_counter()
    from gather_job import schema

    schema.import_models()  # at most what the job itself imports first; timed here on its own
    imported = time.perf_counter() - started
    instrument_job()
    profile = cProfile.Profile() if args.cprofile else None
    code, elapsed, timings = run_once(args.scale, args.latency, profile)
    print(f"scale {args.scale}x, latency {args.latency:g} s: exit {code}, run {elapsed:.3f} s", end="")
    print(f" after {imported:.3f} s of model imports")
    print(f"job's own timings_s (import already done): {timings}\n")
    print(f"{'seconds':>8} {'calls':>6}  what (inclusive)")
    for name, seconds in sorted(SECONDS.items(), key=lambda item: -item[1]):
        print(f"{seconds:8.3f} {CALLS[name]:6d}  {name}")
    print("\nvalidations per model class (how entered):")
    for name, ways in VALIDATED.items():
        tally: dict[str, int] = defaultdict(int)
        for way in ways:
            tally[way] += 1
        print(f"  {name}: {dict(tally)}")
    if profile is not None and args.cprofile:
        profile.dump_stats(str(args.cprofile))
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(args.top)
        print(text.getvalue())
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(args.top)
        print(text.getvalue())


if __name__ == "__main__":
    main()
