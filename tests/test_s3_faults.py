"""S3 faults through real servers: a moto server, and a TCP proxy that drops uploads mid-stream."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from gather_job.cli import main
from tests.conftest import base_settings
from tests.support import launcher
from tests.support.aws_fixtures import Aws
from tests.support.reliability import record
from tests.support.tcp_proxy import CuttingProxy

PREFIX = "123456_2024-03-05_14-20-00/"
CORE = ["acquisition.json", "data_description.json", "instrument.json", "procedures.json", "subject.json"]
KEPT = [
    f"original_metadata/uploaded_json/{name}"
    for name in ("acquisition_a.json", "acquisition_b.json", "instrument_a.json", "instrument_b.json")
] + ["original_metadata/uploaded_json/procedures.json", "original_metadata/uploaded_json/subject.json"]


def settings(folder: Path, endpoint: str, uri: str, **extra: Any) -> dict[str, Any]:
    data = base_settings(folder, Path("unused"), None)
    data.update({"output_dir": uri, "s3_endpoint_url": endpoint, "aws_region": "us-east-1", **extra})
    return data


def run(
    data: dict[str, Any], capsys: pytest.CaptureFixture[str], environ: dict[str, str] | None = None
) -> tuple[int, str]:
    code = main(["run", "--job-settings", json.dumps(data)], environ=environ or {})
    return code, capsys.readouterr().err


@pytest.fixture
def folder(asset: Any) -> Path:
    return asset(with_subject=True, with_procedures=True)  # type: ignore[no-any-return]


@pytest.mark.slow
def test_a_connection_dropped_mid_upload_is_retried(aws: Aws, aws_env: Any, folder: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    bucket = aws.bucket()
    port = int(aws.url.rsplit(":", 1)[1])
    with CuttingProxy(port, after=2500, cuts=1) as proxy:
        code, err = run(settings(folder, proxy.url, f"s3://{bucket}/{PREFIX}"), capsys)
    ok = (
        code == 0
        and proxy.cut == 1
        and sorted(aws.objects(bucket, PREFIX)) == sorted([*CORE, *KEPT, "gather_report.json"])
    )
    record("S3 connection dropped once mid-upload", ok)
    assert ok, err


@pytest.mark.slow
def test_uploads_that_keep_dropping_leave_no_report_and_a_rerun_completes(
    aws: Aws, aws_env: Any, folder: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    bucket = aws.bucket()
    port = int(aws.url.rsplit(":", 1)[1])
    uri = f"s3://{bucket}/{PREFIX}"
    with CuttingProxy(port, after=2500, cuts=1000) as proxy:
        code, err = run(settings(folder, proxy.url, uri), capsys)
    left = aws.objects(bucket, PREFIX)
    failed_cleanly = code == 4 and "gather_report.json" not in left and "Traceback" not in err and bucket in err
    again, err2 = run(settings(folder, aws.url, uri), capsys)
    completed = again == 0 and sorted(aws.objects(bucket, PREFIX)) == sorted([*CORE, *KEPT, "gather_report.json"])
    record("S3 connection dropped on every attempt, then a rerun", failed_cleanly and completed)
    assert failed_cleanly, err
    assert completed, err2


@pytest.mark.slow
@pytest.mark.parametrize(("policy", "code"), [("overwrite", 0), ("skip", 0), ("error", 5)])
def test_an_asset_already_there(aws: Aws, aws_env: Any, folder: Path, capsys, policy: str, code: int) -> None:  # type: ignore[no-untyped-def]
    bucket = aws.bucket()
    uri = f"s3://{bucket}/{PREFIX}"
    assert run(settings(folder, aws.url, uri), capsys)[0] == 0
    before = aws.etags(bucket, PREFIX)
    got, err = run(settings(folder, aws.url, uri, if_exists=policy), capsys)
    after = aws.etags(bucket, PREFIX)
    ok = got == code and (policy == "overwrite" or after == before)
    record(f"S3 prefix already holds an asset, if_exists={policy}", ok)
    assert ok, err


@pytest.mark.slow
def test_a_missing_bucket_and_denied_access(aws: Aws, aws_env: Any, folder: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, err = run(settings(folder, aws.url, f"s3://no-such-bucket/{PREFIX}"), capsys)
    record("S3 bucket missing", code == 2 and "no-such-bucket" in err)
    assert code == 2 and "no-such-bucket" in err
    bucket = aws.bucket()
    keys = aws.user("reader", ["s3:ListBucket", "s3:GetObject"])
    aws_env(**keys)
    with aws.authentication():
        code, err = run(settings(folder, aws.url, f"s3://{bucket}/{PREFIX}"), capsys)
    ok = code == 2 and "gather_report.json" not in aws.objects(bucket, PREFIX) and "denied" in err.lower()
    record("S3 access denied", ok)
    assert ok, err


@pytest.mark.slow
def test_two_processes_race_for_one_prefix(aws: Aws, aws_env: Any, folder: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bucket = aws.bucket()
    uri = f"s3://{bucket}/{PREFIX}"
    env = {k: v for k, v in os.environ.items() if k.startswith("AWS_")} | {
        "PATH": os.environ["PATH"],
    }
    procs = []
    for label in ("one", "two"):
        data = settings(folder, aws.url, uri, if_exists="error")
        data["data_description_settings"]["data_summary"] = label
        procs.append(
            subprocess.Popen(
                launcher.command(0.2, "--job-settings", json.dumps(data)),
                env=env,
                cwd=tmp_path,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    codes = sorted(p.wait(timeout=180) for p in procs)
    for p in procs:
        assert p.stderr is not None
        p.stderr.close()
    stored = aws.objects(bucket, PREFIX)
    report = json.loads(stored["gather_report.json"])
    import hashlib

    intact = all(hashlib.sha256(stored[n]).hexdigest() == e["sha256"] for n, e in report["files"].items())
    ok = codes == [0, 5] and intact
    record("2 processes, one S3 prefix, if_exists=error", ok)
    assert ok, codes


def test_aws_secrets_never_reach_logs_stderr_or_the_report(aws: Aws, aws_env: Any, folder: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    bucket = aws.bucket()
    secrets = {
        "AWS_ACCESS_KEY_ID": "AKIAQUITESECRETKEY01",
        "AWS_SECRET_ACCESS_KEY": "s3cr3t/Secret+Access+Key0",
        "AWS_SESSION_TOKEN": "SessionTokenThatMustStayHidden0123456789",
    }
    aws_env(**secrets)
    data = settings(folder, aws.url.replace("http://", "http://user:url-pa55word@"), f"s3://{bucket}/{PREFIX}")
    err = ""
    for environ in ({"LOG_LEVEL": "DEBUG", **secrets}, {"LOG_LEVEL": "DEBUG"}):  # the second: patterns alone
        code = main(["--debug", "--log-format", "json", "run", "--job-settings", json.dumps(data)], environ=environ)
        err += capsys.readouterr().err
    report = aws.objects(bucket, PREFIX).get("gather_report.json", b"").decode()
    leaked = [name for name, value in {**secrets, "url": "url-pa55word"}.items() if value in err + report]
    record("AWS keys, session token and URL password in logs, stderr, report", code in (0, 2, 4) and not leaked)
    assert not leaked, leaked
