"""boto3 clients made from the settings, and the one place where botocore errors become GatherErrors.

boto3 is imported only when a client is first needed, so local runs never pay for it. JobSettings
(`s3_endpoint_url`, `ssm_endpoint_url`, `aws_region`, `aws_profile`) are given to boto3 explicitly;
what they leave unset comes from boto3's own chain (AWS_* variables, ~/.aws, instance roles), so
AWS_PROFILE, AWS_ENDPOINT_URL and credentials work unchanged. Retries use botocore's standard mode.

Translation (docs/design.md §2): what the operator must fix (no bucket, access denied, bad or
missing credentials, unknown profile, no region) is a UsageError (exit 2); what may pass (no
connection, throttling, 5xx after the retries) is a ServiceError (exit 4); a conditional write that
lost is OutputRefused (exit 5). A missing key or parameter is `NotFound`, for the caller to decide.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from gather_job import __version__
from gather_job.errors import GatherError, OutputRefused, ServiceError, UsageError
from gather_job.logs import redact
from gather_job.settings.model import JobSettings
from gather_job.settings.values import shown_url, url_problem

CREDENTIALS_HINT = (
    "Give the job AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile "
    "(aws_profile or AWS_PROFILE), or an instance or task role."
)
_BAD_CREDENTIALS = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidToken",
    "TokenRefreshRequired",
    "InvalidSignatureException",
}
_DENIED = {"AccessDenied", "AccessDeniedException", "AllAccessDisabled", "403"}
_WRONG_REGION = {"PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException"}
_NOT_FOUND = {"NoSuchKey", "404", "NotFound", "ParameterNotFound"}
_LOST_RACE = {"PreconditionFailed", "ConditionalRequestConflict"}
_TRANSIENT = {
    "Throttling",
    "ThrottlingException",
    "SlowDown",
    "RequestTimeout",
    "RequestTimeoutException",
    "ServiceUnavailable",
    "InternalError",
    "TooManyUpdates",
    "BadDigest",  # S3 received other bytes than their checksum says: damaged on the way
    "XAmzContentSHA256Mismatch",
}


class NotFound(Exception):
    """The object or parameter does not exist (S3 404 / NoSuchKey, SSM ParameterNotFound)."""


class Clients:
    """The S3 and SSM clients of one run, made on first use; tests inject clients pointed at moto."""

    def __init__(self, settings: JobSettings, *, s3: Any = None, ssm: Any = None) -> None:
        self.settings = settings
        self._clients: dict[str, Any] = {name: c for name, c in (("s3", s3), ("ssm", ssm)) if c is not None}

    def s3(self) -> Any:
        return self._client("s3", self.settings.s3_endpoint_url)

    def ssm(self) -> Any:
        return self._client("ssm", self.settings.ssm_endpoint_url)

    def _client(self, service: str, endpoint_url: str | None) -> Any:
        if service not in self._clients:
            self._clients[service] = make_client(service, self.settings, endpoint_url)
        return self._clients[service]


def make_client(service: str, settings: JobSettings, endpoint_url: str | None) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard"},  # attempts: AWS_MAX_ATTEMPTS or ~/.aws/config, else botocore's 3
        connect_timeout=10,
        read_timeout=60,
        user_agent_extra=f"gather-job/{__version__}",
    )
    shown = shown_url(endpoint_url) if endpoint_url else ""
    where = f"the {service.upper()} client" + (f" for {shown}" if endpoint_url else "")
    hint = f"Set {service}_endpoint_url to a URL such as http://127.0.0.1:5000, or unset it."
    if endpoint_url and (problem := url_problem(endpoint_url, aws=True)):  # JobSettings refuses these too
        raise UsageError(f"Cannot use the endpoint '{shown}' for {service.upper()}: it {problem}.", hint=hint)
    with translated("creating", where):
        session = boto3.session.Session(profile_name=settings.aws_profile, region_name=settings.aws_region)
        try:
            return session.client(service, endpoint_url=endpoint_url, config=config)
        except ValueError as exc:  # botocore: "Invalid endpoint: <the URL as given>"
            said = _said(exc).replace(endpoint_url or shown, shown)
            raise UsageError(f"Cannot use the endpoint '{shown}' for {service.upper()}: {said}.", hint=hint) from None


@contextmanager
def translated(action: str, where: str, *, permission: str | None = None) -> Iterator[None]:
    """Run boto3 calls; raise what they fail with as a GatherError naming `where` and the fix.

    `action` is a verb for the message ("writing"), `where` the bucket/key or parameter it concerns,
    `permission` the IAM action the caller needs (for the access-denied hint).
    """
    from botocore import exceptions as bx

    try:
        yield
    except (GatherError, bx.ParamValidationError):
        raise  # ours already, or a bug in how the job calls boto3 (exit 1, with its traceback)
    except bx.ClientError as exc:
        raise _client_error(exc, action, where, permission) from _cause(exc)
    except (bx.NoCredentialsError, bx.PartialCredentialsError, bx.CredentialRetrievalError) as exc:
        raise UsageError(
            f"No usable AWS credentials for {action} {where}: {_said(exc)}.", hint=CREDENTIALS_HINT
        ) from _cause(exc)
    except bx.ProfileNotFound as exc:
        raise UsageError(
            f"The AWS profile '{exc.kwargs.get('profile', '?')}' does not exist (needed for {action} {where}).",
            hint="Set aws_profile (or AWS_PROFILE) to a profile in ~/.aws/config, or unset it.",
        ) from _cause(exc)
    except bx.NoRegionError as exc:
        raise UsageError(
            f"No AWS region is configured for {action} {where}.",
            hint="Set aws_region (or AWS_DEFAULT_REGION), e.g. us-west-2.",
        ) from _cause(exc)
    except (bx.ConnectionError, bx.HTTPClientError) as exc:
        raise ServiceError(
            f"Could not reach AWS for {action} {where}, even after retries: {_said(exc)}.",
            hint="Check the network and the endpoint settings (s3_endpoint_url, ssm_endpoint_url); "
            "this is usually temporary: retry later.",
        ) from _cause(exc)
    except bx.BotoCoreError as exc:
        raise ServiceError(f"AWS failed while {action} {where}: {_said(exc)}.", hint="Retry later.") from _cause(exc)


def _said(exc: BaseException) -> str:
    """An exception's text as a message may show it: botocore puts endpoint URLs and request details in it."""
    return redact(str(exc))


def _cause(exc: BaseException) -> BaseException | None:
    """`exc` to chain (a --debug traceback shows it), unless its text holds something `redact` masks."""
    return exc if _said(exc) == str(exc) else None


def error_code(exc: Any) -> tuple[str, int]:
    """The AWS error code and HTTP status of a botocore ClientError."""
    response = getattr(exc, "response", {}) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return code, status


def _client_error(exc: Any, action: str, where: str, permission: str | None) -> Exception:
    code, status = error_code(exc)
    message = str(exc.response.get("Error", {}).get("Message", "")).strip()
    if message.startswith("<"):  # an XML error body where JSON was expected: recover its code and message
        code = _xml_field("Code", message) or code
        message = _xml_field("Message", message)
    said = redact(f"{code}: {message}" if message else code or f"HTTP {status}")
    if code == "NoSuchBucket":
        bucket = exc.response.get("Error", {}).get("BucketName") or where
        return UsageError(
            f"The bucket '{bucket}' does not exist ({action} {where}).",
            hint="Check the bucket name, or create the bucket; with an S3-compatible store, check s3_endpoint_url.",
        )
    if code in _NOT_FOUND or (status == 404 and not code):
        return NotFound(f"{where} does not exist.")
    if code in _LOST_RACE or status == 412:
        return OutputRefused(
            f"{where} already exists, so it was not overwritten (if_exists=error): another job is writing "
            "this output or wrote it first.",
            hint="Use another output_dir, or set if_exists to overwrite to replace it.",
        )
    if code in _BAD_CREDENTIALS:
        return UsageError(f"AWS rejected the credentials for {action} {where} ({said}).", hint=CREDENTIALS_HINT)
    if code in _DENIED or status == 403:
        needed = f" ({permission})" if permission else ""
        return UsageError(
            f"Access denied for {action} {where} ({said}).",
            hint=f"Give the job's AWS identity permission{needed} there, or use other credentials "
            "(aws_profile or AWS_PROFILE).",
        )
    if code in _WRONG_REGION or status == 301:
        return UsageError(
            f"The bucket for {where} is in another region than the job asks ({said}).",
            hint="Set aws_region (or AWS_DEFAULT_REGION) to the bucket's region.",
        )
    if code in _TRANSIENT or status >= 500 or status == 429:
        return ServiceError(
            f"AWS kept failing ({said}) for {action} {where}, even after retries.",
            hint="This is usually temporary: retry later.",
        )
    return UsageError(
        f"AWS refused {action} {where} ({said}).",
        hint="Check the S3/SSM settings named above (bucket, prefix, endpoint, region).",
    )


def _xml_field(name: str, text: str) -> str:
    found = re.search(rf"<{name}>([^<]*)</{name}>", text)
    return found.group(1).strip() if found else ""
