"""Shared fixtures: a real fake metadata service, asset folders built from aind-data-schema models."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gather_job.cli import main
from tests.fixtures import assets
from tests.support.aws_fixtures import aws, aws_env, aws_settings_file, iam_like_aws, moto_server  # noqa: F401  (fixtures)
from tests.support.fake_service import FakeMetadataService, Route


@pytest.fixture
def service() -> Iterator[FakeMetadataService]:
    """A metadata service on 127.0.0.1 answering for the fixture subject, project and instrument."""
    routes = {path: Route(*answer) for path, answer in assets.service_routes().items()}
    with FakeMetadataService(routes) as server:
        yield server


def tree_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file's bytes: inputs must come out of a run exactly as they went in."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@dataclass
class Run:
    code: int
    out: str
    err: str
    output: Path

    def report(self) -> dict[str, Any]:
        return json.loads((self.output / "gather_report.json").read_text())

    def file(self, name: str) -> dict[str, Any]:
        return json.loads((self.output / name).read_text())

    def ids(self, severity: str | None = None) -> list[str]:
        return [f["id"] for f in self.report()["findings"] if severity is None or f["severity"] == severity]

    def written(self) -> list[str]:
        return sorted(p.name for p in self.output.glob("*.json")) if self.output.exists() else []


def base_settings(folder: Path, output: Path, service_url: str | None) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "metadata_dir": str(folder),
        "output_dir": str(output),
        "subject_id": assets.SUBJECT_ID,
        "acquisition_start_time": assets.ACQUISITION_START.isoformat(),
        "data_description_settings": {
            "project_name": assets.PROJECT_NAME,
            "modalities": ["behavior", "behavior-videos", "ecephys"],
        },
        "service_retries": 1,
        "service_backoff_s": 0.01,
    }
    if service_url is None:
        settings["offline"] = True
        settings["data_description_settings"]["funding_source"] = assets.funding()
        settings["data_description_settings"]["investigators"] = assets.investigators()
    else:
        settings["metadata_service_url"] = service_url
    return settings


def pipeline_settings(folder: Path, output: Path, service_url: str) -> dict[str, Any]:
    """Settings as the transfer pipeline rewrites them (docs/design.md §1): a naive wall-clock
    start, modalities as {name, abbreviation} objects, the service URL, a staging output_dir."""
    settings = base_settings(folder, output, service_url)
    settings["acquisition_start_time"] = "2024-03-05T14:20:00"
    settings["data_description_settings"]["modalities"] = [
        {"name": "Behavior", "abbreviation": "behavior"},
        {"name": "Behavior videos", "abbreviation": "behavior-videos"},
        {"name": "Extracellular electrophysiology", "abbreviation": "ecephys"},
    ]
    return settings


Runner = Callable[..., Run]


@pytest.fixture
def gather(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Runner:
    """Run `gather-job run` through main() on a settings file; the input folder must stay untouched."""

    def run(folder: Path, *, service_url: str | None = None, argv: list[str] | None = None, **overrides: Any) -> Run:
        output = Path(overrides.pop("output_dir", tmp_path / "out"))
        settings = base_settings(folder, output, service_url)
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(settings.get(key), dict):
                settings[key] = {**settings[key], **value}
            else:
                settings[key] = value
        settings = {k: v for k, v in settings.items() if v is not None}
        path = tmp_path / "settings.json"
        path.write_text(json.dumps(settings, default=str))
        before = snapshot(folder)
        code = main(["run", "--settings-file", str(path), *(argv or [])], environ={})
        captured = capsys.readouterr()
        after = snapshot(folder)
        assert {name: after.get(name) for name in before} == before, "an input file was modified or removed"
        return Run(code, captured.out, captured.err, output)

    return run


@pytest.fixture
def asset(tmp_path: Path) -> Callable[..., Path]:
    def make(variant: str = "valid", **kwargs: Any) -> Path:
        return assets.write_asset(tmp_path / f"asset-{variant}", variant, **kwargs)

    return make


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """GATHER_RELIABILITY_REPORT=docs/reliability.md: write the table of faults and outcomes."""
    import os
    from datetime import date

    from tests.support import reliability

    target = os.environ.get("GATHER_RELIABILITY_REPORT")
    if not target or not reliability.OUTCOMES:
        return
    Path(target).write_text(
        "# Reliability\n\n"
        f"Generated by the test suite on {date.today().isoformat()} "
        "(`GATHER_TEST_FULL=1 GATHER_RELIABILITY_REPORT=docs/reliability.md python -m pytest`; CI runs the same "
        "suite with a bounded sample of the random-moment kills).\n"
        "Every row is a fault injected through real servers on 127.0.0.1 (the fake metadata service, a moto "
        "server, a TCP proxy) or a broken input derived from the valid fixtures; 'as specified' means every run "
        "ended with the exit code, messages and files docs/design.md asks for.\n\n" + reliability.table() + "\n"
    )
