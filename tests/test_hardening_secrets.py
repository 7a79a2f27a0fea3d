"""No secret reaches stderr, a log line at any level, an error message or the report.

Secrets come in through every door a run has: user:password@ in URLs, tokens in query strings and
redirect targets, AWS keys in the environment, S3/SSM endpoints with credentials, bodies that echo
credentials; the runs use LOG_LEVEL=DEBUG (urllib3 and botocore then log URLs, headers and bodies),
in text and JSON log formats. Each test scans everything the run printed for every secret string.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from gather_job.cli import main
from gather_job.errors import UsageError
from gather_job.logs import JsonFormatter, Redacting, redact
from gather_job.service import MetadataService, RetryPolicy, redact_url
from gather_job.settings.model import JobSettings
from tests.fixtures import assets
from tests.support.aws_fixtures import Aws
from tests.support.fake_service import FakeMetadataService, Route
from tests.support.reliability import record

SUBJECT = f"/api/v2/subject/{assets.SUBJECT_ID}"
URL_PASSWORD = "Url-Pa55word-7e3"
QUERY_TOKEN = "Query-Token-5c1f"
BODY_SECRET = "Body-Secret-99ab"
AWS_SECRETS = {
    "AWS_ACCESS_KEY_ID": "AKIAHARDENINGTEST001",
    "AWS_SECRET_ACCESS_KEY": "hardening/Secret+Access+Key0001",
    "AWS_SESSION_TOKEN": "HardeningSessionToken0123456789abcdef",
}
# What botocore logs at DEBUG for an STS AssumeRole call: its request headers and the XML answer.
STS_ANSWER = (
    'Response body:\nb\'<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\\n'
    "<AssumeRoleResult><Credentials><AccessKeyId>ASIAHARDENINGSTS0001</AccessKeyId>"
    "<SecretAccessKey>sts/Secret+Key+From+XML01</SecretAccessKey>"
    "<SessionToken>FwoGZXIvYXdzEHardeningSessionTokenXML</SessionToken>"
    "<Expiration>2030-01-01T00:00:00Z</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>'"
)
STS_SECRETS = ("ASIAHARDENINGSTS0001", "sts/Secret+Key+From+XML01", "FwoGZXIvYXdzEHardeningSessionTokenXML")
SHAPES = [
    ("url userinfo", "GET http://operator:pw-in-url-1@svc.example:8080/api/v2/subject/1", ["pw-in-url-1"]),
    ("token alone as user", "https://tok3n-as-user-0042@git.example/x", ["tok3n-as-user-0042"]),
    ("query token", "GET /x?subject_id=1&token=qt-secret-01&y=2", ["qt-secret-01"]),
    (
        "access_token, api_key, sig",
        "?access_token=at-0001&api_key=ak-0002&sig=sg-0003",
        ["at-0001", "ak-0002", "sg-0003"],
    ),
    (
        "presigned URL",
        "https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIAPRESIGNED0000001%2F20240101%2Fus-east-1%2Fs3"
        "&X-Amz-Signature=0123456789abcdef0123&X-Amz-Security-Token=presigned-token-0004",
        ["AKIAPRESIGNED0000001", "0123456789abcdef0123", "presigned-token-0004"],
    ),
    ("sts xml", STS_ANSWER, list(STS_SECRETS)),
    (
        "json keys",
        '{"SecretAccessKey": "json/secret-0005", "aws_secret_access_key": "json-secret-0006", '
        '"sessionToken":"json-token-0007", "password": "json-pw-0008"}',
        ["json/secret-0005", "json-secret-0006", "json-token-0007", "json-pw-0008"],
    ),
    ("ini line", "aws_secret_access_key = ini-secret-0009", ["ini-secret-0009"]),
    (
        "botocore headers",
        "Sending http request: <AWSPreparedRequest stream_output=False, method=GET, url=https://s3/, "
        "headers={'Authorization': b'AWS4-HMAC-SHA256 Credential=AKIAHEADERS000000001/20240101/us-east-1/s3/"
        "aws4_request, SignedHeaders=host, Signature=abcdef0123456789', 'X-Amz-Security-Token': b'hdr-token-0010', "
        "'Cookie': b'session=cookie-0011'}>",
        ["AKIAHEADERS000000001", "abcdef0123456789", "hdr-token-0010", "cookie-0011"],
    ),
    (
        "signing lines",
        "Signature:\nfedcba9876543210fedcba98\nx-amz-security-token:canon-token-0012",
        ["fedcba9876543210fedcba98", "canon-token-0012"],
    ),
    ("bearer", "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.bearer0013", ["eyJhbGciOiJIUzI1NiJ9.bearer0013"]),
    ("escaped json", 'b\'{\\"SecretAccessKey\\":\\"escaped-secret-0014\\"}\'', ["escaped-secret-0014"]),
]


@pytest.fixture(autouse=True)
def _logging_detached(capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    """After a DEBUG run, requests the job no longer waits for may still log: not into a closed capture."""
    yield
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(logging.WARNING)


@pytest.mark.parametrize(("shape", "text", "secrets"), SHAPES, ids=[s[0] for s in SHAPES])
def test_every_secret_shape_is_masked_by_the_filter_and_redact(shape: str, text: str, secrets: list[str]) -> None:
    record_ = logging.LogRecord("botocore.parsers", logging.DEBUG, __file__, 1, "%s", (text,), None)
    Redacting().filter(record_)
    lines = [logging.Formatter("%(message)s").format(record_), JsonFormatter().format(record_), redact(text)]
    leaked = [s for s in secrets for line in lines if s in line]
    record(f"secret shape through the log filter: {shape}", not leaked)
    assert not leaked, lines


def test_traceback_stack_and_extra_fields_are_masked_too() -> None:
    try:
        raise ValueError("Could not connect to the endpoint URL: http://key:exc-secret-0015@127.0.0.1:9/")
    except ValueError:
        import sys

        info = sys.exc_info()
    entry = logging.LogRecord("botocore", logging.DEBUG, __file__, 1, "failed", (), info)
    entry.__dict__["headers"] = {"Authorization": "Basic extra-secret-0016"}
    entry.__dict__["body"] = b"<SecretAccessKey>extra-bytes-0017</SecretAccessKey>"
    Redacting().filter(entry)
    lines = JsonFormatter().format(entry) + logging.Formatter().format(entry)
    leaked = [s for s in ("exc-secret-0015", "extra-secret-0016", "extra-bytes-0017") if s in lines]
    record("secrets in a logged traceback and extra= fields", not leaked)
    assert not leaked, lines


def test_ordinary_text_is_left_alone() -> None:
    text = (
        "Give the job AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile; "
        "service: HTTP 503 for http://127.0.0.1:8000/api/v2/subject/123456?subject_id=123456; retrying"
    )
    assert redact(text) == text


def _scan(text: str, secrets: list[str]) -> list[str]:
    return [secret for secret in secrets if secret in text]


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_debug_run_with_secrets_in_urls_redirects_and_answers(  # type: ignore[no-untyped-def]
    asset, service: FakeMetadataService, tmp_path: Path, capsys: pytest.CaptureFixture[str], log_format: str
) -> None:
    folder = asset()
    # the subject answer moves (same origin, followed) to a URL carrying a token; the instrument id's
    # endpoint answers 401 with a body that echoes a secret (a ServiceError message quotes it)
    moved = f"{SUBJECT}-moved"
    service.add(SUBJECT, Route(302, None, headers={"Location": f"{moved}?token={QUERY_TOKEN}"}))
    service.add(moved, Route(200, assets.service_routes()[SUBJECT][1]))
    url = service.url.replace("http://", f"http://operator:{URL_PASSWORD}@")
    settings = {
        **_settings(folder, tmp_path / "out", url),
        "instrument_settings": {"instrument_id": "inst-1"},
    }
    service.add("/api/v2/instrument/inst-1", Route(401, {"detail": f'{{"SecretAccessKey": "{BODY_SECRET}"}}'}))
    environ = {"LOG_LEVEL": "DEBUG", **AWS_SECRETS}
    code = main(["--log-format", log_format, "run", "--job-settings", json.dumps(settings)], environ=environ)
    captured = capsys.readouterr()
    report_path = tmp_path / "out" / "gather_report.json"
    report = report_path.read_text() if report_path.exists() else ""
    leaked = _scan(captured.err + captured.out + report, [URL_PASSWORD, QUERY_TOKEN, BODY_SECRET])
    ok = code == 4 and not leaked and "inst-1" in captured.err and "DEBUG" in captured.err
    record(f"secrets in URLs, a redirect and an answer body, LOG_LEVEL=DEBUG ({log_format} logs)", ok)
    assert ok, (code, leaked, captured.err[-2000:])


def _settings(folder: Path, output: Path, url: str) -> dict[str, Any]:
    from tests.conftest import base_settings

    return base_settings(folder, output, url)


ENDPOINTS = [
    ("s3_endpoint_url", "http://AKIAENDPOINTKEY00001:Endpoint-Secret-01@127.0.0.1:9000"),
    ("ssm_endpoint_url", "http://user:Endpoint-Secret-02@127.0.0.1:9000"),
    ("s3_endpoint_url", "ftp://user:Endpoint-Secret-03@127.0.0.1"),
    ("ssm_endpoint_url", "http://user:Endpoint-Secret-04@[::1"),
    ("s3_endpoint_url", "http://user:Endpoint-Secret-05@127.0.0.1:99999"),
    ("metadata_service_url", "http://user:Endpoint-Secret-06@host:abc"),
    ("metadata_service_url", "http://user:Endpoint-Secret-07@host/?token=x"),
    ("s3_endpoint_url", "AKIAENDPOINTKEY00002:Endpoint/Secret-08@host"),
]


@pytest.mark.parametrize(("setting", "value"), ENDPOINTS)
@pytest.mark.parametrize("door", ["json", "environment", "python"])
def test_a_refused_endpoint_never_echoes_its_credentials(
    setting: str, value: str, door: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secrets = [part for part in value.replace("@", ":").split(":") if "Secret" in part or "AKIA" in part]
    if door == "python":
        with pytest.raises(ValidationError) as caught:
            JobSettings(**{setting: value})
        text, code = str(caught.value), 2
    else:
        environ = {"LOG_LEVEL": "DEBUG"} | ({f"GATHER_{setting.upper()}": value} if door == "environment" else {})
        argv = ["check", str(tmp_path), "--offline"]
        argv += ["--job-settings", json.dumps({setting: value})] if door == "json" else []
        code = main(argv, environ=environ)
        text = capsys.readouterr().err
    ok = code == 2 and not _scan(text, secrets) and setting in text and "Traceback" not in text
    record(f"{setting} with credentials, refused ({door})", ok)
    assert ok, text


def test_clients_built_without_validation_redact_the_endpoint_too() -> None:
    """model_construct skips the validators: aws.make_client checks and redacts on its own."""
    from gather_job.aws import make_client

    settings = JobSettings.model_construct(s3_endpoint_url="http://u:Construct-Secret-09@127.0.0.1:99999")
    with pytest.raises(UsageError) as caught:
        make_client("s3", settings, settings.s3_endpoint_url)
    ok = "Construct-Secret-09" not in str(caught.value) and "s3" in str(caught.value).lower()
    record("endpoint with credentials given to the AWS client directly", ok)
    assert ok, str(caught.value)


def test_service_messages_never_show_credentials(service: FakeMetadataService) -> None:
    assert redact_url("http://user:secret@host:8080/x?token=t&a=b") == "http://***@host:8080/x?token=***&a=b"
    assert redact_url("http://[::1") == "http://[::1"  # never raises, whatever it is given
    with pytest.raises(UsageError) as caught:
        MetadataService("http://user:Svc-Secret-10@[::1", {"subject": "/s"})
    service.add("/s/1", Route(401, {"detail": "bad credentials: password=Svc-Secret-11"}))
    svc = MetadataService(
        service.url.replace("http://", "http://u:Svc-Secret-12@"), {"subject": "/s"}, policy=RetryPolicy(retries=0)
    )
    with pytest.raises(Exception) as answered:
        svc.get("subject", "1")
    svc.close()
    text = str(caught.value) + str(answered.value)
    ok = not _scan(text, ["Svc-Secret-10", "Svc-Secret-11", "Svc-Secret-12"]) and "HTTP 401" in text
    record("credentials in the service URL and in its error answers", ok)
    assert ok, text


@pytest.mark.slow
def test_an_oversized_answer_names_the_url_without_its_password(service: FakeMetadataService) -> None:
    from gather_job.errors import ServiceError
    from gather_job.service import MAX_BODY

    service.add("/s/1", Route(200, raw=b" " * (MAX_BODY + 1)))
    svc = MetadataService(service.url.replace("http://", "http://u:Big-Secret-13@"), {"subject": "/s"})
    with pytest.raises(ServiceError) as caught:
        svc.get("subject", "1")
    svc.close()
    ok = "Big-Secret-13" not in str(caught.value) and "***@" in str(caught.value)
    record("answer above MAX_BODY from a URL with a password", ok)
    assert ok, str(caught.value)


@pytest.mark.slow
@pytest.mark.usefixtures("aws_env")
@pytest.mark.parametrize("log_format", ["text", "json"])
def test_botocore_debug_lines_carry_no_aws_secret(  # type: ignore[no-untyped-def]
    aws: Aws, aws_env, asset, tmp_path: Path, capsys: pytest.CaptureFixture[str], log_format: str
) -> None:
    """An S3 run at DEBUG: botocore logs headers, signing steps and bodies; the keys are not handed to
    the filter (environ has none of them), so the patterns alone must catch them."""
    aws_env(**AWS_SECRETS)
    bucket = aws.bucket()
    folder = asset(with_subject=True, with_procedures=True)
    settings = _settings(folder, tmp_path, "http://unused.invalid")
    settings.update(
        {"offline": True, "output_dir": f"s3://{bucket}/a/", "s3_endpoint_url": aws.url, "aws_region": "us-east-1"}
    )
    settings["data_description_settings"].update(
        {"funding_source": assets.funding(), "investigators": assets.investigators()}
    )
    code = main(
        ["--log-format", log_format, "run", "--job-settings", json.dumps(settings)], environ={"LOG_LEVEL": "DEBUG"}
    )
    err = capsys.readouterr().err
    report = aws.objects(bucket, "a/").get("gather_report.json", b"").decode()
    leaked = _scan(err + report, [AWS_SECRETS["AWS_SECRET_ACCESS_KEY"], AWS_SECRETS["AWS_SESSION_TOKEN"]])
    leaked += _scan(err + report, [AWS_SECRETS["AWS_ACCESS_KEY_ID"]])
    ok = code in (0, 3) and not leaked and "botocore" in err
    record(f"AWS keys in botocore DEBUG lines of an S3 run ({log_format} logs)", ok)
    assert ok, (code, leaked)
