"""Times the rig meant, whatever the machine: the same folder gives the same bytes under any TZ.

An asset whose acquisition times carry no UTC offset is run as the pipeline runs it (a naive
acquisition_start_time in the settings), in subprocesses with TZ=UTC (the container),
America/Los_Angeles (a desk) and Asia/Kolkata; exit codes and every output byte must agree.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import base_settings
from tests.fixtures import assets

ZONES = ("UTC", "America/Los_Angeles", "Asia/Kolkata")
_OFFSET = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(?:Z|[+-]\d{2}:\d{2})$")


def _strip_offsets(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_offsets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_offsets(v) for v in value]
    if isinstance(value, str):
        return _OFFSET.sub(r"\1", value)
    return value


def _naive_asset(folder: Path, zone: Any) -> Path:
    for name in ("acquisition_a.json", "acquisition_b.json"):
        data = _strip_offsets(json.loads((folder / name).read_text()))
        data["acquisition_start_tz"] = zone
        (folder / name).write_text(json.dumps(data, indent=3))
    return folder


def _run(folder: Path, output: Path, zone: str) -> tuple[int, dict[str, bytes], str]:
    settings = base_settings(folder, output, None)
    settings["acquisition_start_time"] = "2024-03-05T14:20:00"  # as the pipeline sends it: naive
    env = {"PATH": os.environ["PATH"], "TZ": zone}
    done = subprocess.run(
        [sys.executable, "-m", "gather_job", "run", "--job-settings", json.dumps(settings)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    files = {p.name: p.read_bytes() for p in sorted(output.glob("*.json")) if p.name != "gather_report.json"}
    report = json.loads((output / "gather_report.json").read_text())
    findings = [(f["id"], f["message"]) for f in report["findings"]]
    files["findings"] = json.dumps(findings).encode()
    return done.returncode, files, done.stderr


@pytest.mark.slow
@pytest.mark.parametrize(("zone", "expected"), [(-7, "-07:00"), ("America/Los_Angeles", "-08:00"), (None, "Z")])
def test_naive_times_give_the_same_bytes_under_any_tz(asset: Any, tmp_path: Path, zone: Any, expected: str) -> None:
    folder = _naive_asset(asset(with_subject=True, with_procedures=True), zone)
    results = [_run(folder, tmp_path / f"out-{i}", tz) for i, tz in enumerate(ZONES)]
    codes = {code for code, _, _ in results}
    assert len(codes) == 1, [err for _, _, err in results]
    first = results[0][1]
    for _, files, _ in results[1:]:
        assert files == first
    description = json.loads(first["data_description.json"])
    assert description["name"] == assets.ASSET_NAME  # the rig's wall clock, whatever the machine
    acquisition = json.loads(first["acquisition.json"])
    assert acquisition["acquisition_start_time"].endswith(expected)
    ids = [i for i, _ in json.loads(first["findings"])]
    assert ("gather.time.naive_unknown_zone" in ids) == (zone is None)
    assert ("gather.time.rig_wall_clock" in ids) == (zone is not None)
