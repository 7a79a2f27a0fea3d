"""Concurrent runs on one S3 prefix (a moto server): exactly one wins, and what is left is one run's
complete, self-consistent result, whose report `gather-job check` on the prefix agrees with.

Runs are real jobs (GatherMetadataJob in threads, the CLI in processes) held between write steps by
their write hook, so each interleaving is forced: a run is released only once the other is known to
wait for the claim (its log line) or to hold it (its hook).
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from gather_job.aws import Clients
from gather_job.cli import main
from gather_job.errors import GatherError, OutputRefused
from gather_job.job import GatherMetadataJob
from gather_job.settings.layers import Layer, SettingsInput, compose_settings
from gather_job.storage.s3_claim import CLAIM_NAME
from gather_job.storage.s3_target import S3Target
from gather_job.storage.s3uri import parse
from tests.conftest import base_settings
from tests.support.aws_fixtures import REGION, Aws
from tests.support.races import Job, LogSignal, environment
from tests.support.reliability import record

PREFIX = "123456_2024-03-05_14-20-00/"
CLAIMS = "gather_job.storage.s3_claim"


def _settings(folder: Path, aws: Aws, uri: str, summary: str, **overrides: Any) -> dict[str, Any]:
    settings = base_settings(folder, Path("unused"), None)
    settings["data_description_settings"]["data_summary"] = summary
    settings.update(output_dir=uri, s3_endpoint_url=aws.url, aws_region=REGION, **overrides)
    return settings


class Runner(threading.Thread):
    """One GatherMetadataJob in a thread; `hook(step)` runs before each of its write steps."""

    def __init__(self, aws: Aws, settings: dict[str, Any], hook: Callable[[str], None] | None = None) -> None:
        super().__init__(daemon=True)
        composed, self.notes = compose_settings(SettingsInput(inline=Layer("--job-settings", settings)))
        self.job = GatherMetadataJob(
            composed, notes=self.notes, clients=Clients(composed, s3=aws.client("s3")), write_hook=hook
        )
        self.result: Any = None

    def run(self) -> None:
        try:
            self.result = self.job.run_job()
        except GatherError as exc:
            self.result = exc

    def code(self) -> int:
        self.join(timeout=120)
        assert not self.is_alive(), "the job did not finish"
        return int(self.result.exit_code)


def _hold_at(index: int, holding: threading.Event, release: threading.Event) -> Callable[[str], None]:
    """A hook that stops before write step `index` (from 0; after the first, the run holds the claim)."""
    steps: list[str] = []

    def hook(step: str) -> None:
        steps.append(step)
        if len(steps) == index + 1:
            holding.set()
            assert release.wait(60), "never released"

    return hook


def _consistent(aws: Aws, bucket: str) -> dict[str, Any]:
    """The prefix's report, after checking it lists every object of ours there, with matching checksums."""
    stored = aws.objects(bucket, PREFIX)
    report: dict[str, Any] = json.loads(stored["gather_report.json"])
    ours = {n for n in stored if n.endswith(".json") and n != "gather_report.json"}
    assert CLAIM_NAME not in stored, "the claim was left behind"
    assert set(report["files"]) == ours, (sorted(report["files"]), sorted(ours))
    for name, entry in report["files"].items():
        assert hashlib.sha256(stored[name]).hexdigest() == entry["sha256"], name
    return report


def _check_agrees(aws: Aws, bucket: str, report: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> bool:
    """`gather-job check` on the prefix reads exactly the core files the report lists (none after an invalid
    run), and passes them when the report says they were written."""
    capsys.readouterr()
    inline = json.dumps({"s3_endpoint_url": aws.url, "aws_region": REGION})
    code = main(
        ["check", f"s3://{bucket}/{PREFIX}", "--offline", "--format", "json", "--job-settings", inline], environ={}
    )
    checked = json.loads(capsys.readouterr().out)
    read = {name for name, source in checked["sources"].items() if source.get("from") == "file"}
    listed = {name for name in report["files"] if "/" not in name}
    return read == listed and (code == 0 or report["exit_code"] != 0)


@pytest.mark.slow
@pytest.mark.parametrize("first", ["valid", "invalid"])
def test_an_invalid_and_a_valid_run_with_error_one_wins_and_check_agrees(  # type: ignore[no-untyped-def]
    aws: Aws, aws_env: Any, asset, capsys: pytest.CaptureFixture[str], first: str
) -> None:
    bucket = aws.bucket()
    uri = f"s3://{bucket}/{PREFIX}"
    valid, broken = asset(with_subject=True, with_procedures=True), asset("shared_device", with_subject=True)
    holding, release = threading.Event(), threading.Event()
    if first == "valid":  # the valid run holds the claim, mid-write; the invalid one waits for it
        leader = Runner(aws, _settings(valid, aws, uri, "valid", if_exists="error"), _hold_at(1, holding, release))
        with LogSignal(CLAIMS, "waiting for") as waiting:
            leader.start()
            assert holding.wait(60)
            follower = Runner(aws, _settings(broken, aws, uri, "invalid", if_exists="error"))
            follower.start()
            assert waiting.seen.wait(60)
        release.set()
        codes = {"valid": leader.code(), "invalid": follower.code()}
        expected = {"valid": 0, "invalid": 3}  # the invalid run leaves the complete result alone
    else:  # the valid run decided (no asset), then stops before its claim; the invalid one completes first
        follower = Runner(aws, _settings(valid, aws, uri, "valid", if_exists="error"), _hold_at(0, holding, release))
        follower.start()
        assert holding.wait(60)
        leader = Runner(aws, _settings(broken, aws, uri, "invalid", if_exists="error"))
        leader.start()
        leader.join(60)
        release.set()
        codes = {"invalid": leader.code(), "valid": follower.code()}
        # the valid run finds the invalid run's report under its claim: a report-only result is not an asset,
        # so `error` has nothing to refuse and the valid run completes the prefix
        expected = {"invalid": 3, "valid": 0}
    report = _consistent(aws, bucket)
    winner = report["settings"]["data_description_settings"]["data_summary"]
    agrees = _check_agrees(aws, bucket, report, capsys)
    ok = codes == expected and winner == "valid" and agrees
    record(f"S3, if_exists=error, an invalid and a valid run racing ({first} first): the valid one wins", ok)
    assert ok, (codes, winner, agrees)


@pytest.mark.slow
def test_two_overwrites_interleaved_leave_the_second_runs_consistent_result(  # type: ignore[no-untyped-def]
    aws: Aws, aws_env: Any, asset, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket = aws.bucket()
    uri = f"s3://{bucket}/{PREFIX}"
    folder = asset(with_subject=True, with_procedures=True)
    assert Runner(aws, _settings(folder, aws, uri, "earlier")).run() is None  # a complete earlier result
    holding, release = threading.Event(), threading.Event()
    first = Runner(aws, _settings(folder, aws, uri, "first"), _hold_at(2, holding, release))
    with LogSignal(CLAIMS, "waiting for") as waiting:
        first.start()
        assert holding.wait(60)  # the old report deleted, one file written, the claim held
        second = Runner(aws, _settings(folder, aws, uri, "second"))
        second.start()
        assert waiting.seen.wait(60)
    release.set()
    codes = (first.code(), second.code())
    report = _consistent(aws, bucket)
    ok = codes == (0, 0) and report["settings"]["data_description_settings"]["data_summary"] == "second"
    ok = ok and _check_agrees(aws, bucket, report, capsys)
    record("S3, two overwrites interleaved: they take turns, the report's checksums match the objects", ok)
    assert ok, codes


def _target(aws: Aws, bucket: str, hook: Callable[[str], None] | None = None, **claim: float) -> S3Target:
    return S3Target(parse(f"s3://{bucket}/{PREFIX}", "output_dir"), aws.client("s3"), "overwrite", hook=hook, **claim)


FILES = {"acquisition.json": b'{"run": 1}', "subject.json": b'{"run": 1}', "procedures.json": b'{"run": 1}'}


def _write(target: S3Target, files: dict[str, bytes]) -> list[str]:
    target.prepare()
    report = json.dumps({"files": {n: {"sha256": hashlib.sha256(d).hexdigest()} for n, d in files.items()}})
    return target.write(files, report.encode(), inputs=frozenset(), originals={}, invalid=False)


@pytest.mark.slow
@pytest.mark.parametrize("stalled", ["between steps", "in a request"])
def test_a_run_that_outlives_its_lease_cannot_mix_its_objects_into_the_next_runs_result(aws: Aws, stalled: str) -> None:
    """The first run stalls past its 1 s lease; the second takes the claim over and completes. The first's
    next step fails: its renewal (between steps) or its conditional write (a request sent late)."""
    bucket = aws.bucket()
    holding, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []
    hook = _hold_at(1, holding, release) if stalled == "between steps" else None
    slow = _target(aws, bucket, hook, lease_s=1.0)
    if stalled == "in a request":  # the PUT of procedures.json leaves after the claim was renewed, then waits

        def late(params: dict[str, Any], **_: Any) -> None:
            if params.get("Key", "").endswith("procedures.json"):
                holding.set()
                release.wait(60)

        slow.client.meta.events.register("before-parameter-build.s3.PutObject", late)

    def run_slow() -> None:
        try:
            _write(slow, FILES)
        except GatherError as exc:
            errors.append(exc)

    thread = threading.Thread(target=run_slow, daemon=True)
    thread.start()
    assert holding.wait(60)
    second = dict.fromkeys(FILES, b'{"run": 2}')
    with LogSignal(CLAIMS, "took over") as took:
        written = _write(_target(aws, bucket, wait_s=30.0, poll_s=0.2), second)
    release.set()
    thread.join(60)
    stored = aws.objects(bucket, PREFIX)
    report = json.loads(stored["gather_report.json"])
    intact = all(hashlib.sha256(stored[n]).hexdigest() == e["sha256"] for n, e in report["files"].items())
    ok = took.seen.is_set() and intact and {n: stored[n] for n in FILES} == second and CLAIM_NAME not in stored
    ok = ok and len(errors) == 1 and isinstance(errors[0], OutputRefused) and written[-1] == "gather_report.json"
    record(f"S3, a run stalled past its lease ({stalled}): the next run's result stays whole", ok)
    assert ok, (errors, took.messages, sorted(stored))


@pytest.mark.slow
def test_a_live_claim_is_waited_for_then_refused_naming_the_holder(aws: Aws) -> None:
    bucket = aws.bucket()
    holding, release = threading.Event(), threading.Event()
    holder = threading.Thread(
        target=_write, args=(_target(aws, bucket, _hold_at(1, holding, release)), FILES), daemon=True
    )
    holder.start()
    assert holding.wait(60)
    try:
        with pytest.raises(OutputRefused) as refused:
            _write(_target(aws, bucket, wait_s=1.0, poll_s=0.2), FILES)
    finally:
        release.set()
        holder.join(60)
    message = refused.value.message
    ok = "is being written by another run" in message and "on host" in message and CLAIM_NAME in message
    record("S3, a live claim held past the wait: exit 5 naming the other run", ok and refused.value.exit_code == 5)
    assert ok, message
    assert CLAIM_NAME not in aws.objects(bucket, PREFIX)  # the holder released it when done


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_killed_runs_stale_claim_is_taken_over_by_the_next_run(  # type: ignore[no-untyped-def]
    aws: Aws, aws_env: Any, asset, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket = aws.bucket()
    uri = f"s3://{bucket}/{PREFIX}"
    script = Path(__file__).parent / "support" / "s3_holder.py"
    env = environment(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    holder = Job([sys.executable, str(script), aws.url, uri, "1"], cwd=tmp_path, env=env)
    holder.wait_for("holding the claim")
    holder.kill()  # a claim, a partial write, no report: what a killed run leaves
    assert CLAIM_NAME in aws.objects(bucket, PREFIX)
    code = main(
        [
            "run",
            "--job-settings",
            json.dumps(_settings(asset(with_subject=True, with_procedures=True), aws, uri, "next")),
        ],
        environ={},
    )
    err = capsys.readouterr().err
    report = _consistent(aws, bucket)
    ok = (
        code == 0
        and "took over the stale claim" in err
        and report["settings"]["data_description_settings"]["data_summary"] == "next"
    )
    record("S3, a killed run's stale claim (its lease past, by S3's clock): taken over, result consistent", ok)
    assert ok, err[-1500:]


@pytest.mark.slow
@pytest.mark.usefixtures("iam_like_aws")
def test_a_denied_claim_is_exit_2_naming_the_claim_and_what_to_allow(  # type: ignore[no-untyped-def]
    aws: Aws, aws_env: Any, asset, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket = aws.bucket()
    keys = aws.user("writer", ["s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject"])
    deny = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Deny", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/{PREFIX}{CLAIM_NAME}"}
        ],
    }
    aws.client("iam").put_user_policy(UserName="writer", PolicyName="no-claim", PolicyDocument=json.dumps(deny))
    aws_env(**keys)
    settings = _settings(asset(with_subject=True, with_procedures=True), aws, f"s3://{bucket}/{PREFIX}", "denied")
    with aws.authentication():
        code = main(["run", "--job-settings", json.dumps(settings)], environ={})
    err = " ".join(capsys.readouterr().err.split())
    ok = code == 2 and f"{PREFIX}{CLAIM_NAME}" in err and "s3:PutObject" in err and "two runs cannot mix" in err
    ok = ok and aws.objects(bucket, PREFIX) == {} and "Traceback" not in err
    record("S3, PutObject allowed but the claim object denied: exit 2 naming it, nothing written", ok)
    assert ok, err


@pytest.mark.slow
def test_the_claim_is_never_read_as_metadata(aws: Aws, aws_env: Any, asset, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    """A claim left under an uploaded asset (a killed run's) is no finding for `check` and no input."""
    bucket = aws.bucket()
    uri = f"s3://{bucket}/{PREFIX}"
    assert (
        main(
            [
                "run",
                "--job-settings",
                json.dumps(_settings(asset(with_subject=True, with_procedures=True), aws, uri, "x")),
            ],
            environ={},
        )
        == 0
    )
    boto3.session.Session().client("s3", endpoint_url=aws.url, region_name=REGION).put_object(
        Bucket=bucket, Key=f"{PREFIX}{CLAIM_NAME}", Body=b"{}"
    )
    capsys.readouterr()
    inline = json.dumps({"s3_endpoint_url": aws.url, "aws_region": REGION})
    code = main(["check", uri, "--offline", "--format", "jsonl", "--job-settings", inline], environ={})
    out = capsys.readouterr().out
    assert code == 0 and CLAIM_NAME not in out, out
