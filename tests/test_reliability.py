"""Faults survived and bad input refused, through the whole job (docs/design.md §2, §8, §10).

Each test records its outcome for docs/reliability.md (see tests/support/reliability.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gather_job.settings.model import JobSettings
from tests.conftest import base_settings
from tests.fixtures import assets
from tests.support.fake_service import FakeMetadataService, Fault, Route
from tests.support.reliability import record

SUBJECT = f"/api/v2/subject/{assets.SUBJECT_ID}"


def test_default_budgets_are_the_references_with_a_total_above_them() -> None:
    """60 s a request and 300 s for procedures (slow back ends), as the reference; a dead service still
    fails in bounded time (the reference can block for ~27 minutes)."""
    settings = JobSettings()
    assert settings.service_timeout_s == 60 and settings.service_procedures_timeout_s == 300
    assert settings.service_procedures_timeout_s < settings.service_total_timeout_s <= 15 * 60


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_then_success(gather, asset, service: FakeMetadataService, status: int) -> None:  # type: ignore[no-untyped-def]
    service.inject(SUBJECT, Fault("status", times=2, status=status))
    run = gather(asset(), service_url=service.url, service_retries=2)
    record(f"service {status} twice, then 200", run.code == 0 and service.count(SUBJECT) == 3)
    assert run.code == 0, run.err
    assert service.count(SUBJECT) == 3  # two failures, one success: exactly the retries needed


def test_retries_are_bounded_by_the_count(gather, asset, service: FakeMetadataService) -> None:  # type: ignore[no-untyped-def]
    service.inject(SUBJECT, Fault("status", times=100, status=503))
    run = gather(asset(), service_url=service.url, service_retries=2)
    record("service 503 forever", run.code == 4 and service.count(SUBJECT) == 3)
    assert run.code == 4 and service.count(SUBJECT) == 3
    assert "after 3 attempts" in run.err and not run.output.exists()


@pytest.mark.slow
def test_retry_after_is_honoured(gather, asset, service: FakeMetadataService) -> None:  # type: ignore[no-untyped-def]
    service.inject(SUBJECT, Fault("status", times=1, status=503, headers={"Retry-After": "1"}))
    started = time.monotonic()
    run = gather(asset(), service_url=service.url)
    elapsed = time.monotonic() - started
    record("service 503 with Retry-After: 1", run.code == 0 and elapsed >= 1)
    assert run.code == 0 and elapsed >= 1.0
    times = [r.time for r in service.requests if r.path == SUBJECT]
    assert times[1] - times[0] >= 0.95


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["hang", "slow_body"])
def test_hung_or_trickling_service_fails_within_the_bound(
    gather, asset, service: FakeMetadataService, kind: str
) -> None:  # type: ignore[no-untyped-def]
    service.inject(SUBJECT, Fault(kind, times=100, seconds=0.2 if kind == "slow_body" else 60))
    started = time.monotonic()
    run = gather(
        asset(), service_url=service.url, service_timeout_s=0.5, service_total_timeout_s=2.5, service_retries=10
    )
    elapsed = time.monotonic() - started
    record(f"service {kind.replace('_', ' ')}", run.code == 4 and elapsed < 5)
    assert run.code == 4, run.err
    assert elapsed < 5 and SUBJECT.split("/")[-1] in run.err
    assert 2 <= service.count(SUBJECT) <= 5  # retried, within the total time


def test_connection_refused_fails_within_seconds(gather, asset) -> None:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    run = gather(asset(), service_url="http://127.0.0.1:9")
    elapsed = time.monotonic() - started
    record("service connection refused", run.code == 4 and elapsed < 10)
    assert run.code == 4 and elapsed < 10 and "connection failed" in run.err


@pytest.mark.parametrize("kind", ["html", "bad_json"])
def test_a_200_that_is_not_json(gather, asset, service: FakeMetadataService, kind: str) -> None:  # type: ignore[no-untyped-def]
    service.inject(SUBJECT, Fault(kind, times=1))
    run = gather(asset(), service_url=service.url)
    ok = run.code == 4 and SUBJECT in run.err and "JSONDecodeError" not in run.err
    record(f"service 200 with {'an HTML page' if kind == 'html' else 'truncated JSON'}", ok)
    assert ok, run.err


@pytest.mark.parametrize("status", [404, 406])
def test_404_and_406_are_findings_never_retried(gather, asset, service: FakeMetadataService, status: int) -> None:  # type: ignore[no-untyped-def]
    service.add(SUBJECT, Route(status, {"detail": "no such subject"}))
    run = gather(asset(), service_url=service.url, service_retries=3)
    ok = run.code == 3 and service.count(SUBJECT) == 1
    record(f"service {status} for the subject", ok)
    assert ok, run.err


@pytest.mark.parametrize("evil", ["../x", "a/../../admin", "%2F", "..", "http://evil.example/x", "?q=1#f"])
def test_ids_cannot_escape_the_endpoint(gather, asset, service: FakeMetadataService, evil: str) -> None:  # type: ignore[no-untyped-def]
    folder = asset()
    for name in ("acquisition_a.json", "acquisition_b.json"):
        (folder / name).unlink()
    gather(
        folder,
        service_url=service.url,
        subject_id=evil,
        instrument_settings={"instrument_id": evil},
        data_description_settings={"project_name": None, "modalities": ["behavior"]},
    )
    for _ in range(40):  # a request the job gave up waiting for may still be on its way to the server
        if len(service.requests) >= 4:
            break
        time.sleep(0.05)
    raw = [r.raw_path for r in service.requests]
    prefixes = ("/api/v2/subject/", "/api/v2/procedures/", "/api/v2/instrument/")
    in_path = [p for p in raw if p.startswith(prefixes)]
    ok = len(in_path) == 3 and all("/" not in p.split("/", 4)[4] and "?" not in p and "#" not in p for p in in_path)
    queried = [r for r in service.requests if r.path == "/api/v2/labtracks/subject"]  # the id as a query value
    ok = ok and len(raw) == 4 and len(queried) == 1 and queried[0].query == {"subject_id": evil}
    record("ids that try to escape the endpoint", ok)
    assert ok, raw


def test_secrets_never_reach_stderr_or_the_report(gather, asset, service: FakeMetadataService) -> None:  # type: ignore[no-untyped-def]
    url = service.url.replace("http://", "http://operator:s3cr3t-pass@")
    run = gather(asset(), service_url=url)
    report = (run.output / "gather_report.json").read_text()
    ok = run.code == 0 and "s3cr3t" not in run.err + run.out + report and "***@" in report
    record("credentials in the service URL", ok)
    assert ok


@pytest.mark.slow
def test_eight_jobs_at_once(asset, tmp_path: Path, service: FakeMetadataService) -> None:  # type: ignore[no-untyped-def]
    service.set_latency(0.2)
    procs = []
    for index in range(8):
        folder = asset() if index == 0 else Path(__import__("shutil").copytree(asset(), tmp_path / f"asset-{index}"))
        settings = base_settings(folder, tmp_path / f"out-{index}", service.url)
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "gather_job", "--job-settings", json.dumps(settings)],
                env={"PATH": os.environ["PATH"]},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    codes = [p.wait(timeout=180) for p in procs]
    for p in procs:
        assert p.stderr is not None
        p.stderr.close()
    names = {json.loads((tmp_path / f"out-{i}" / "data_description.json").read_text())["name"] for i in range(8)}
    ok = codes == [0] * 8 and names == {assets.ASSET_NAME}
    record("8 jobs at once, one service", ok)
    assert ok, codes
