"""S3 failures: one paragraph naming the bucket/key and the fix; exit 2 to fix settings, 4 to retry later."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gather_job.cli import main
from gather_job.errors import UsageError
from gather_job.storage.s3uri import location, parse
from tests.conftest import base_settings
from tests.support.aws_fixtures import REGION, Aws

PREFIX = "asset/"


def run(settings: dict[str, Any], capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["run", "--job-settings", json.dumps(settings), *argv], environ={})
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, " ".join(err.split())


@pytest.fixture
def settings(asset: Any, aws: Aws) -> dict[str, Any]:
    folder = asset(with_subject=True, with_procedures=True)
    values = base_settings(folder, Path("unused"), None)
    values.update(output_dir=f"s3://gather-test/{PREFIX}", s3_endpoint_url=aws.url, aws_region=REGION)
    return values


@pytest.mark.slow
def test_a_missing_bucket_is_exit_2_before_any_work(
    aws: Aws, aws_env: Any, settings: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    settings["output_dir"] = "s3://no-such-bucket/asset/"
    code, err = run(settings, capsys)
    assert code == 2
    assert "The bucket 'no-such-bucket' does not exist" in err and "s3://no-such-bucket/asset/" in err
    assert "create the bucket" in err


def test_unknown_credentials_are_exit_2(
    aws: Aws, aws_env: Any, settings: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    aws.bucket()
    aws_env(AWS_ACCESS_KEY_ID="AKIANOTAREALKEY00000", AWS_SECRET_ACCESS_KEY="wrong")
    with aws.authentication():
        code, err = run(settings, capsys)
    assert code == 2
    assert "AWS rejected the credentials" in err and "InvalidAccessKeyId" in err
    assert f"s3://gather-test/{PREFIX}" in err and "AWS_ACCESS_KEY_ID" in err


@pytest.mark.slow
@pytest.mark.usefixtures("iam_like_aws")
def test_access_denied_names_the_key_and_the_permission(
    aws: Aws, aws_env: Any, settings: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    aws.bucket()
    aws_env(**aws.user("reader", ["s3:ListBucket", "s3:GetObject"]))
    with aws.authentication():
        code, err = run(settings, capsys)
    assert code == 2
    # the first object a run writes is its claim on the prefix (storage/s3_claim.py), before acquisition.json
    assert f"Access denied for writing s3://gather-test/{PREFIX}.gather-job-claim" in err
    assert "s3:PutObject" in err
    assert aws.etags("gather-test", PREFIX) == {}


def test_no_credentials_at_all_is_exit_2(
    aws: Aws, aws_env: Any, settings: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    aws_env(AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None)  # and no ~/.aws, no instance metadata
    code, err = run(settings, capsys)
    assert code == 2
    assert "No usable AWS credentials" in err and f"s3://gather-test/{PREFIX}" in err and "AWS_PROFILE" in err


def test_an_unknown_profile_is_exit_2(
    aws: Aws, aws_env: Any, settings: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    settings["aws_profile"] = "no-such-profile"
    code, err = run(settings, capsys)
    assert code == 2 and "The AWS profile 'no-such-profile' does not exist" in err


def test_an_unreachable_endpoint_is_exit_4_after_retries(
    aws: Aws, aws_env: Any, settings: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    settings["s3_endpoint_url"] = "http://127.0.0.1:9"
    aws_env(AWS_MAX_ATTEMPTS="2")  # boto3's own setting is honoured
    code, err = run(settings, capsys)
    assert code == 4
    assert "Could not reach AWS" in err and "127.0.0.1:9" in err and "retry later" in err


def test_an_invalid_endpoint_setting_is_exit_2(settings: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    settings["s3_endpoint_url"] = "127.0.0.1:5000"
    code, err = run(settings, capsys)
    assert code == 2 and "s3_endpoint_url" in err and "http://" in err


FORM = "s3://bucket/prefix/"


@pytest.mark.parametrize(
    ("value", "problem", "fix"),
    [
        ("s3:/bucket/asset/", "must start with 's3://'", FORM),
        ("s3:bucket", "must start with 's3://'", FORM),
        ("S3://bucket/asset/", "lower-case", FORM),
        ("s3://", "names no bucket", FORM),
        ("s3:///asset/", "names no bucket", FORM),
        ("s3://My_Bucket/asset/", "'My_Bucket' is not a valid bucket name", "lower-case letters"),
        ("s3://ab/asset/", "'ab' is not a valid bucket name", "3-63 characters"),
        ("s3://bucket..name/x/", "not a valid bucket name", FORM),
        ("s3://192.168.1.1/x/", "IP address", FORM),
        ("s3://bucket//asset/", "empty path segment", "Remove the doubled slash"),
        ("s3://bucket/a/../b/", "'..' segment", "Name the prefix directly"),
        ("s3://bucket/a\nb/", "control character", FORM),
        ("s3://bucket/" + "a" * 1000 + "/", "longer than", "shorter prefix"),
    ],
)
def test_invalid_s3_uris_name_the_uri_and_the_fix(value: str, problem: str, fix: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse(value, "output_dir")
    assert caught.value.exit_code == 2
    assert problem in caught.value.message and repr(value)[1:-1] in repr(caught.value.message)
    assert fix in (caught.value.hint or "")


def test_uris_are_normalised_to_a_prefix() -> None:
    assert parse("s3://bucket/asset", "output_dir").prefix == "asset/"
    assert parse("s3://bucket/a/b/", "output_dir").key("x.json") == "a/b/x.json"
    assert parse("s3://bucket", "output_dir").prefix == ""
    assert parse("s3://bucket/", "output_dir").label == "s3://bucket"
    assert location("relative/folder", "output_dir") is None
    assert location("C:\\data\\asset", "output_dir") is None


def test_other_uri_schemes_are_refused(settings: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    settings["output_dir"] = "gs://bucket/asset/"
    code, err = run(settings, capsys)
    assert code == 2 and "gs://bucket/asset/" in err and "s3://bucket/prefix/" in err
    settings["output_dir"] = "s3:/bucket/asset/"
    code, err = run(settings, capsys)
    assert code == 2 and "must start with 's3://'" in err


@pytest.mark.parametrize(
    ("code", "status", "exit_code"),
    [
        ("BadDigest", 400, 4),
        ("SlowDown", 503, 4),
        ("InternalError", 500, 4),
        ("AccessDenied", 403, 2),
        ("ExpiredToken", 400, 2),
        ("PermanentRedirect", 301, 2),
        ("PreconditionFailed", 412, 5),
        ("ConditionalRequestConflict", 409, 5),
    ],
)
def test_aws_error_codes_map_to_exit_codes(code: str, status: int, exit_code: int) -> None:
    """Codes real S3 sends that moto does not (or not here): still exit 2, 4 or 5 as section 2 says."""
    from botocore.exceptions import ClientError

    from gather_job.aws import translated

    response = {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}
    with pytest.raises(Exception) as caught, translated("writing", "s3://b/k"):
        raise ClientError(response, "PutObject")  # type: ignore[arg-type]
    assert getattr(caught.value, "exit_code", None) == exit_code
    assert "s3://b/k" in str(caught.value)
