"""A moto server on 127.0.0.1 for every AWS call of the tests (S3, SSM, IAM), and clients for it.

The job reaches it the way it reaches AWS: boto3 clients with `s3_endpoint_url`/`ssm_endpoint_url`.
Clients the tests make get fake credentials passed explicitly; for clients the job makes itself,
`aws_env` sets them through boto3's chain with monkeypatch (and hides any real ~/.aws).

moto limitation: its `If-None-Match: *` check and the store that follows are not under a lock,
where S3 makes them atomic. In practice the pair runs within one GIL slice (300 forced two-thread
races on one key: never two winners), so the race test relies on it; a second winner there
would be moto's, not the job's.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import moto
import pytest
import requests
from botocore.config import Config
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@functools.cache
def _default_client(url: str, service: str) -> Any:
    """The tests' own client with the fake credentials, made once: a client costs ~0.1 s to create."""
    return Aws(url).client(service)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Aws:
    """The running moto server, with helpers to arrange and inspect what is stored there."""

    url: str

    def client(self, service: str, **credentials: str) -> Any:
        """A client of its own session (boto3's cached default one would keep a stale environment)."""
        return boto3.session.Session().client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            config=Config(retries={"mode": "standard", "max_attempts": 2}),
            **(credentials or FAKE_CREDENTIALS),
        )

    @property
    def s3(self) -> Any:
        return _default_client(self.url, "s3")

    @property
    def ssm(self) -> Any:
        return _default_client(self.url, "ssm")

    def bucket(self, name: str = "gather-test") -> str:
        self.s3.create_bucket(Bucket=name)
        return name

    def upload(self, folder: Path, bucket: str, prefix: str) -> None:
        s3 = self.s3
        for path in sorted(folder.iterdir()):
            if path.is_file():
                s3.put_object(Bucket=bucket, Key=f"{prefix}{path.name}", Body=path.read_bytes())

    def objects(self, bucket: str, prefix: str = "") -> dict[str, bytes]:
        s3 = self.s3
        found: dict[str, bytes] = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                found[item["Key"][len(prefix) :]] = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        return found

    def etags(self, bucket: str, prefix: str = "") -> dict[str, str]:
        listed = self.s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        return {item["Key"][len(prefix) :]: item["ETag"] for item in listed}

    def put_parameter(self, name: str, value: Any) -> None:
        text = value if isinstance(value, str) else json.dumps(value)
        self.ssm.put_parameter(Name=name, Value=text, Type="String", Overwrite=True)

    def user(self, name: str, actions: list[str]) -> dict[str, str]:
        """An IAM user allowed only `actions`; returns its keys (for when authentication is enforced)."""
        iam = self.client("iam")
        iam.create_user(UserName=name)
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
        iam.put_user_policy(UserName=name, PolicyName="only", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}

    @contextmanager
    def authentication(self) -> Iterator[None]:
        """moto checks signatures and IAM policies only inside this block (it accepts any key otherwise)."""
        requests.post(f"{self.url}/moto-api/reset-auth", data=b"0", timeout=10).raise_for_status()
        try:
            yield
        finally:
            requests.post(f"{self.url}/moto-api/reset-auth", data=b"inf", timeout=10).raise_for_status()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request is noise here
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def _iam_difference(url: str) -> str | None:
    """None when moto authorizes S3 reads by IAM action, as AWS does; else what it does instead.

    AWS has no `s3:ListObjectsV2` or `s3:HeadObject` permission: `s3:ListBucket` allows the listing and
    `s3:GetObject` the HEAD. Some moto releases (5.2.6) check the API call's name instead and deny both.
    """
    from botocore.exceptions import ClientError

    aws = Aws(url)
    requests.post(f"{url}/moto-api/reset", timeout=10).raise_for_status()
    try:
        aws.bucket("iam-probe")
        aws.s3.put_object(Bucket="iam-probe", Key="k", Body=b"x")
        keys = aws.user("probe", ["s3:ListBucket", "s3:GetObject"])
        client = aws.client(
            "s3", aws_access_key_id=keys["AWS_ACCESS_KEY_ID"], aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"]
        )
        with aws.authentication():
            for call, action, run in (
                ("ListObjectsV2", "s3:ListBucket", lambda: client.list_objects_v2(Bucket="iam-probe")),
                ("HeadObject", "s3:GetObject", lambda: client.head_object(Bucket="iam-probe", Key="k")),
            ):
                try:
                    run()
                except ClientError as exc:
                    code = exc.response.get("Error", {}).get("Code")
                    return (
                        f"moto {moto.__version__} denies {call} ({code}) to a policy allowing {action}, the IAM "
                        "action AWS checks for it: its authorization differs from AWS's here"
                    )
        return None
    finally:
        requests.post(f"{url}/moto-api/reset", timeout=10).raise_for_status()


@pytest.fixture(scope="session")
def iam_like_aws(moto_server: str) -> None:
    """Skip a test of IAM permissions where the installed moto authorizes S3 calls unlike AWS."""
    difference = _iam_difference(moto_server)
    if difference:
        pytest.skip(difference)


@pytest.fixture
def aws(moto_server: str) -> Aws:
    """The moto server, emptied: every test starts with no bucket, parameter or user."""
    requests.post(f"{moto_server}/moto-api/reset", timeout=10).raise_for_status()
    return Aws(moto_server)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., None]:
    """Fake credentials for the clients the job makes, through boto3's chain; returns a setter for others."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    def use(**variables: str | None) -> None:
        for name, value in variables.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)

    use(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    return use


@pytest.fixture
def aws_settings_file(aws: Aws, aws_env: Any, tmp_path: Path) -> str:
    """A settings file pointing S3 at the moto server: for commands that take only --settings-file."""
    path = tmp_path / "aws.json"
    path.write_text(json.dumps({"s3_endpoint_url": aws.url, "aws_region": REGION}))
    return str(path)
