"""Many-asset checks of S3 prefixes, as the adversarial probe found them: resuming from a prefix that holds
the output key appends to it, every child of --each is named, a typo'd prefix is no silent success."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gather_job.cli import main
from tests.fixtures import assets
from tests.support.aws_fixtures import Aws


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv, environ={})
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _records(text: str, kind: str) -> list[dict[str, Any]]:
    return [r for r in (json.loads(line) for line in text.splitlines() if line.strip()) if r["type"] == kind]


@pytest.fixture
def settings(aws_settings_file: str) -> str:
    return aws_settings_file


@pytest.fixture
def bucket(aws: Aws, tmp_path: Path) -> str:
    name = aws.bucket("open")
    valid, broken = tmp_path / "valid", tmp_path / "broken"
    assets.write_asset(valid, "valid")
    assets.write_asset(broken, "malformed_json")
    for i in range(3):
        aws.upload(valid, name, f"asset-{i}/")
    aws.upload(broken, name, "broken/")
    return name


def test_resuming_from_a_prefix_that_holds_the_output_key_appends_to_it(
    aws: Aws, bucket: str, settings: str, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.bucket("ops")
    output = "s3://ops/recheck/shard-0.jsonl"
    argv = ["check", "--each", f"s3://{bucket}/", "--offline", "--settings-file", settings, "--jobs", "1"]
    assert _run([*argv, "--output", output], capsys)[0] == 3
    code, _, err = _run([*argv, "--output", output, "--resume", "s3://ops/recheck/"], capsys)
    assert code == 3 and "4 assets: 0 checked now, 4 resumed from s3://ops/recheck/ (1 with errors)" in err, err
    stored = aws.objects("ops", "recheck/")["shard-0.jsonl"].decode()
    assert len(_records(stored, "asset")) == 4  # was 0: the earlier records replaced by the new summary alone
    code, out, _ = _run(["summary", "s3://ops/recheck/", "--settings-file", settings, "--format", "json"], capsys)
    assert code == 3 and json.loads(out)["assets"] == 4


def test_each_on_s3_names_prefixes_without_metadata_and_checks_a_metadata_nd_json_one(
    aws: Aws, bucket: str, settings: str, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.s3.put_object(Bucket=bucket, Key="ecephys_700000/ecephys/data.bin", Body=b"1")
    aws.s3.put_object(Bucket=bucket, Key="ecephys_700000/original_metadata/subject.json", Body=b"{}")
    aws.s3.put_object(Bucket=bucket, Key="nd-only/metadata.nd.json", Body=json.dumps({"name": "x"}).encode())
    argv = ["check", "--each", f"s3://{bucket}/", "--offline", "--settings-file", settings, "--jobs", "1"]
    _, out, err = _run([*argv, "--format", "jsonl"], capsys)
    (skipped,) = _records(out, "skipped")
    assert skipped["asset"] == f"s3://{bucket}/ecephys_700000/" and "original_metadata/" in skipped["reason"]
    checked = {r["asset"]: r["exit_code"] for r in _records(out, "asset")}
    alone = _run(["check", f"s3://{bucket}/nd-only/", "--offline", "--settings-file", settings], capsys)[0]
    assert checked[f"s3://{bucket}/nd-only/"] == alone  # alone and in bulk: the same exit code
    assert "1 folder skipped (no metadata)" in err


def test_each_of_a_prefix_that_holds_nothing_is_exit_2(
    bucket: str, settings: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["check", "--offline", "--settings-file", settings, "--jobs", "1", "--each"]
    code, out, err = _run([*argv, f"s3://{bucket}/typo-prefix/"], capsys)
    assert code == 2 and "holds no folder or prefix" in " ".join(err.split()) and out == ""
    code, _, err = _run([*argv, f"s3://{bucket}/asset-0/"], capsys)
    assert code == 2 and "is itself an asset" in " ".join(err.split())


def test_an_uploaded_prefix_without_metadata_is_not_clean_checked_alone(
    aws: Aws, settings: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Data and original_metadata/ (what a gather writes) but no core file: its metadata is gone, not
    "open until upload" (exit 0)."""
    name = aws.bucket("uploads")
    aws.s3.put_object(Bucket=name, Key="asset/ecephys/data.bin", Body=b"x")
    aws.s3.put_object(Bucket=name, Key="asset/original_metadata/uploaded_json/subject.json", Body=b"{}")
    code, out, err = _run(["check", f"s3://{name}/asset/", "--offline", "--settings-file", settings], capsys)
    assert code == 3, err
    assert "No data_description.json in the uploaded asset" in " ".join((out + err).split())


def test_a_metadata_nd_json_asset_is_judged_alike_local_and_alone_or_in_bulk(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parent = tmp_path / "archive"
    asset = parent / "ndonly"
    (asset / "ecephys").mkdir(parents=True)
    (asset / "metadata.nd.json").write_text('{"name": "ndonly"}')
    alone = _run(["check", str(asset), "--offline", "--format", "jsonl"], capsys)
    bulk = _run(["check", "--each", str(parent), "--offline", "--format", "jsonl", "--jobs", "1"], capsys)
    assert alone[0] == bulk[0] == 3
    ids = [sorted(r["id"] for r in _records(out, "finding")) for _, out, _ in (alone, bulk)]
    assert ids[0] == ids[1] and "gather.resolve.missing" in ids[0]
