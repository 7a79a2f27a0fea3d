"""`check --output`: the report copy goes where it is named, a local file or an S3 key, and the verdict
says where (an `s3://` key was written as a local file named `s3:/bucket/key`, and the verdict said
"no report written")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gather_job.cli import main
from tests.support.aws_fixtures import REGION, Aws


def _check(
    argv: list[str], capsys: pytest.CaptureFixture[str], environ: dict[str, str] | None = None
) -> tuple[int, str]:
    code = main(["check", *argv], environ=environ or {})
    return code, " ".join(capsys.readouterr().err.split())


def test_a_local_copy_is_named_in_the_verdict(asset, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    copy = tmp_path / "copy.json"
    code, err = _check([str(asset()), "--offline", "--output", str(copy)], capsys)
    assert code == 0
    assert json.loads(copy.read_text())["command"] == "check"
    assert f"report: {copy}." in err


def test_an_s3_key_gets_the_report_and_nothing_local(  # type: ignore[no-untyped-def]
    aws: Aws, aws_env: Any, asset, tmp_path: Path, capsys, monkeypatch
) -> None:
    bucket = aws.bucket("reports")
    monkeypatch.chdir(tmp_path)
    environ = {"GATHER_S3_ENDPOINT_URL": aws.url, "GATHER_AWS_REGION": REGION}
    code, err = _check([str(asset()), "--offline", "--output", f"s3://{bucket}/checks/one.json"], capsys, environ)
    assert code == 0, err
    assert json.loads(aws.objects(bucket)["checks/one.json"])["command"] == "check"
    assert f"report: s3://{bucket}/checks/one.json." in err
    assert not (tmp_path / "s3:").exists()  # no ./s3:/... file

    code, err = _check([str(asset()), "--offline", "--output", "s3://no-such-bucket/x.json"], capsys, environ)
    assert code == 2 and "the bucket 'no-such-bucket' does not exist" in err
    code, err = _check([str(asset()), "--offline", "--output", f"s3://{bucket}/folder/"], capsys, environ)
    assert code == 2 and "names no object" in err


def test_an_s3_key_inside_the_checked_prefix_is_refused(aws: Aws, aws_env: Any, asset, capsys) -> None:  # type: ignore[no-untyped-def]
    bucket = aws.bucket("checked")
    aws.upload(asset(with_subject=True, with_procedures=True), bucket, "asset/")
    before = aws.objects(bucket)
    environ = {"GATHER_S3_ENDPOINT_URL": aws.url, "GATHER_AWS_REGION": REGION}
    for key in ("asset/subject.json", "asset/gather_report.json", "asset/deeper/r.json"):
        code, err = _check([f"s3://{bucket}/asset/", "--offline", "--output", f"s3://{bucket}/{key}"], capsys, environ)
        assert code == 2 and "which is being checked" in err, err
    code, err = _check(
        [f"s3://{bucket}/asset/", f"s3://{bucket}/asset/", "--offline", "--output", f"s3://{bucket}/asset/r.jsonl"],
        capsys,
        environ,
    )
    assert code == 2 and "is inside the asset" in err and "which this run checks" in err, err  # the archive's rule
    assert aws.objects(bucket) == before
