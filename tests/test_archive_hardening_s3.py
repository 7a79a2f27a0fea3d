"""Many assets on S3 when the archive or the results place is odd: each problem is one asset's or one message.

A child prefix S3 holds but gather-job cannot address (a control character, a key near S3's length
limit, `./`, `../`, a leading '/') is that asset's own exit-2 record, never the end of the run and
never skipped unseen; results go to and come back from `s3://` keys (`--resume` included); a
missing bucket is exit 2 before any asset is checked, and a failed upload keeps the results.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from gather_job.cli import main
from tests.fixtures import assets
from tests.support.aws_fixtures import REGION, Aws

ODD = ["bad\x1b[31m/", "L" * 980 + "/", "./", "../"]


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv, environ={})
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _records(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def valid(tmp_path: Path) -> Path:
    folder = tmp_path / "valid"
    assets.write_asset(folder, "valid")
    return folder


@pytest.fixture
def settings(aws: Aws, aws_env: Any, tmp_path: Path) -> str:
    path = tmp_path / "aws.json"
    path.write_text(json.dumps({"s3_endpoint_url": aws.url, "aws_region": REGION}))
    return str(path)


def _alone(asset: str, settings: str, capsys: pytest.CaptureFixture[str]) -> int:
    """What `check PATH` alone exits with for a well-formed asset: its record in the archive says the same."""
    return _run(["check", asset, "--offline", "--settings-file", settings], capsys)[0]


def _worst(alone: int) -> int:
    """The run's exit with the good assets exiting `alone` and the odd ones 2: errors outrank assets not read."""
    return 3 if alone == 3 else 2


def _each(parent: str, settings: str, *more: str) -> list[str]:
    return ["check", "--each", parent, "--offline", "--settings-file", settings, "--jobs", "1", *more]


@pytest.mark.slow
def test_an_odd_child_is_its_own_record_and_the_rest_are_checked(
    aws: Aws, settings: str, valid: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket = aws.bucket()
    for prefix in ["good1/", "good2/", *ODD]:
        aws.upload(valid, bucket, prefix)
    aws.s3.put_object(Bucket=bucket, Key="data\x07only/raw.dat", Body=b"0")  # odd, but no metadata: not an asset
    alone = _alone(f"s3://{bucket}/good1/", settings, capsys)
    code, out, err = _run([*_each(f"s3://{bucket}/", settings), "--format", "jsonl"], capsys)
    records = {r["asset"]: r for r in _records(out) if r["type"] == "asset"}
    assert records[f"s3://{bucket}/good1/"]["exit_code"] == records[f"s3://{bucket}/good2/"]["exit_code"] == alone
    for prefix in ODD:
        odd = records.pop(f"s3://{bucket}/{prefix}")
        assert odd["exit_code"] == 2 and "not a usable S3 URI" in odd["error"], odd
    assert len(records) == 2  # the data-only prefix is not an asset
    assert code == _worst(alone) and "Traceback" not in err  # was exit 2 for the whole archive, the odd child's
    code, out, _ = _run(_each(f"s3://{bucket}/", settings), capsys)
    assert code == _worst(alone) and "\x1b" not in out and "bad\\x1b[31m/" in out  # the table cannot colour a terminal


@pytest.mark.slow
def test_a_prefix_with_a_leading_or_doubled_slash_is_reported_not_skipped(
    aws: Aws, settings: str, valid: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket = aws.bucket()
    aws.upload(valid, bucket, "/")  # keys "/subject.json", ...: the child "s3://b//", not the bucket's root
    aws.upload(valid, bucket, "good/")
    aws.upload(valid, bucket, "p//")  # under the parent p/: the child "s3://b/p//", not p/ itself
    alone = _alone(f"s3://{bucket}/good/", settings, capsys)
    code, out, _ = _run([*_each(f"s3://{bucket}/", settings), "--format", "jsonl"], capsys)
    records = {r["asset"]: r for r in _records(out) if r["type"] == "asset"}
    assert records[f"s3://{bucket}/good/"]["exit_code"] == alone
    slash = records[f"s3://{bucket}//"]
    assert slash["exit_code"] == 2 and "starting with '/'" in slash["error"] and slash["counts"] == {}
    assert code == _worst(alone) and len(records) == 2
    code, out, _ = _run([*_each(f"s3://{bucket}/p/", settings), "--format", "jsonl"], capsys)
    (doubled,) = [r for r in _records(out) if r["type"] == "asset"]
    assert doubled["asset"] == f"s3://{bucket}/p//" and doubled["exit_code"] == 2 and code == 2


def test_summary_of_a_bucket_or_a_missing_key_is_exit_2_naming_it(
    aws: Aws, settings: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket = aws.bucket()
    aws.s3.put_object(Bucket=bucket, Key="r.jsonl", Body=b"")
    for url, said in [
        (f"s3://{bucket}", "names no object, only a bucket or prefix"),  # was a botocore ParamValidationError
        (f"s3://{bucket}/missing.jsonl", "does not exist"),  # was an uncaught aws.NotFound
    ]:
        code, _, err = _run(["summary", url, "--settings-file", settings], capsys)
        assert code == 2 and "Traceback" not in err and "internal error" not in err, err
        paragraph = " ".join(err.split())
        assert f"RESULTS {url} {said}" in paragraph and "s3://bucket/recheck/shard-0.jsonl" in paragraph


def _archive(tmp_path: Path, count: int = 4) -> Path:
    root = tmp_path / "archive"
    for i in range(count):
        assets.write_asset(root / f"asset-{i}", "valid")
    return root


@pytest.mark.slow
def test_resume_reads_an_s3_key_and_appends_to_it(
    aws: Aws, settings: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, bucket = _archive(tmp_path), aws.bucket("results-bucket")
    output = f"s3://{bucket}/recheck/r.jsonl"
    argv = [*_each(str(root), settings), "--format", "jsonl", "--output", output]
    assert _run(argv, capsys)[0] == 0
    lines = aws.objects(bucket, "recheck/")["r.jsonl"].decode().splitlines()
    first = next(i for i, line in enumerate(lines) if '"type": "asset"' in line)
    cut = '{"type": "asset", "asset": "/tr'  # a killed run's last line, in the object its upload left
    aws.s3.put_object(Bucket=bucket, Key="recheck/r.jsonl", Body=("\n".join(lines[: first + 1]) + "\n" + cut).encode())
    code, _, err = _run([*argv, "--resume", output], capsys)
    assert code == 0 and "4 assets: 3 checked now, 1 resumed" in err, err  # was 4 checked: s3:// read as a local path
    stored = aws.objects(bucket, "recheck/")["r.jsonl"].decode().splitlines()
    assert cut in stored  # kept, on a line of its own
    done = [r["asset"] for r in map(json.loads, (s for s in stored if s != cut)) if r["type"] == "asset"]
    assert sorted(done) == sorted(str(p) for p in root.iterdir()) and len(done) == len(set(done))
    code, _, err = _run([*_each(str(root), settings), "--format", "jsonl", "--resume", output], capsys)
    assert code == 0 and "0 checked now, 4 resumed" in err


@pytest.mark.slow
def test_an_output_bucket_that_does_not_exist_is_exit_2_before_any_asset(
    aws: Aws, settings: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _archive(tmp_path, 2)
    argv = [*_each(str(root), settings), "--format", "jsonl", "--output", "s3://missing-bucket/r.jsonl"]
    code, out, err = _run(argv, capsys)
    assert code == 2 and "Traceback" not in err, err
    paragraph = " ".join(err.split())
    assert "--output s3://missing-bucket/r.jsonl: the bucket 'missing-bucket' does not exist" in paragraph
    assert "no asset was checked" in paragraph and "assets checked" not in err and out == ""


@pytest.mark.slow
def test_a_failed_upload_at_the_end_keeps_the_results_and_names_them(
    aws: Aws, aws_env: Any, settings: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, bucket = _archive(tmp_path, 2), aws.bucket("results-bucket")
    aws_env(**aws.user("reader", ["s3:ListBucket", "s3:GetObject"]))  # may not write the results
    argv = [*_each(str(root), settings), "--format", "jsonl", "--output", f"s3://{bucket}/r.jsonl"]
    with aws.authentication():
        code, _, err = _run(argv, capsys)
    assert code == 2 and "Traceback" not in err and "S3UploadFailedError" not in err, err
    paragraph = " ".join(err.split())
    assert f"The results could not be written to s3://{bucket}/r.jsonl: Access denied" in paragraph
    found = re.search(r"They are kept in (\S+\.jsonl)\.", paragraph)
    assert found, paragraph
    kept = Path(found.group(1))
    assert f"aws s3 cp {kept} s3://{bucket}/r.jsonl" in paragraph and f"--resume {kept}" in paragraph
    done = [r["asset"] for r in _records(kept.read_text()) if r["type"] == "asset"]
    assert sorted(done) == sorted(str(p) for p in root.iterdir())
    kept.unlink()
    assert aws.objects(bucket) == {}


@pytest.mark.slow
def test_listing_many_children_keeps_within_the_connection_pool(
    aws: Aws, settings: str, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    bucket = aws.bucket()
    for i in range(60):  # prefixes of data only: listed, none an asset
        aws.s3.put_object(Bucket=bucket, Key=f"child-{i:02d}/raw.dat", Body=b"0")
    with caplog.at_level(logging.WARNING, logger="urllib3.connectionpool"):
        code, _, err = _run(_each(f"s3://{bucket}/", settings), capsys)
    assert code == 0, err
    said = err + caplog.text
    assert "Connection pool is full" not in said, said
