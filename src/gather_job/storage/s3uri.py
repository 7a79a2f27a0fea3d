"""`s3://bucket/prefix/` locations: parsed once, refused with a message that names the URI and the fix.

Pure: no boto3 here. A prefix always ends with "/" (or is "" for the bucket's root), so a key is
`prefix + name` and `s3://b/asset` and `s3://b/asset/` mean the same folder-like prefix. A refused
value is shown without any user:password@ and with control characters escaped, except the whitespace
ones, which the CLI's paragraph turns into spaces.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

from gather_job.errors import UsageError
from gather_job.settings.values import shown_url as _shown_url

SCHEME = "s3://"
MAX_KEY_BYTES = 1024
_LONGEST_NAME = 64  # room left in a key for the file names the job writes
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_ANY_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_FORM = "Write it as s3://bucket/prefix/ (for example s3://aind-data/123456_2024-03-05_14-20-00/)."


def shown_url(value: str) -> str:
    return _shown_url(value, limit=len(value) * 6).replace("\\n", "\n").replace("\\r", "\r").replace("\\t", "\t")


@dataclass(frozen=True)
class S3Uri:
    bucket: str
    prefix: str

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def url(self, name: str) -> str:
        return f"{SCHEME}{self.bucket}/{self.key(name)}"

    def within(self, other: S3Uri) -> bool:
        """Is this prefix `other` or below it (the S3 form of a path inside a folder)?"""
        return self.bucket == other.bucket and self.prefix.startswith(other.prefix)

    @property
    def label(self) -> str:
        """The prefix as people write it, without the trailing slash: `label + "/" + name` is a key's URL."""
        return f"{SCHEME}{self.bucket}/{self.prefix}".rstrip("/")

    def __str__(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.prefix}"


def is_s3(value: str) -> bool:
    return value[:3].lower() == "s3:"


def location(value: str, setting: str) -> S3Uri | None:
    """An S3Uri for an s3:// value, None for a local path; any other URI is refused."""
    if is_s3(value):
        return parse(value, setting)
    if _ANY_SCHEME.match(value) and not re.match(r"^[A-Za-z]:[\\/]", value):  # keep C:\ paths local
        raise UsageError(
            f"{setting} '{shown_url(value)}' is a URI of a kind gather-job does not read or write.",
            hint=f"Use a local folder or an S3 prefix. {_FORM}",
        )
    return None


def parse(value: str, setting: str) -> S3Uri:
    """Parse and validate `s3://bucket[/prefix]`; raise UsageError (exit 2) naming what is wrong."""

    def refuse(problem: str, hint: str = _FORM) -> UsageError:
        return UsageError(f"{setting} '{shown_url(value)}' is not a usable S3 URI: {problem}.", hint=hint)

    if not value.startswith(SCHEME):
        if value.lower().startswith(SCHEME):
            raise refuse("the scheme must be lower-case 's3://'")
        raise refuse("it must start with 's3://' (two slashes)")
    rest = value[len(SCHEME) :]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise refuse("it names no bucket")
    _check_bucket(bucket, refuse)
    if _CONTROL.search(prefix):
        raise refuse("the prefix contains a control character")
    segments = prefix.rstrip("/").split("/") if prefix.rstrip("/") else []
    if any(segment == "" for segment in segments):
        raise refuse("the prefix has an empty path segment ('//')", "Remove the doubled slash.")
    if any(segment in (".", "..") for segment in segments):
        raise refuse("the prefix has a '.' or '..' segment, which S3 keeps literally", "Name the prefix directly.")
    normalised = "/".join(segments) + "/" if segments else ""
    if len(normalised.encode("utf-8")) > MAX_KEY_BYTES - _LONGEST_NAME:
        raise refuse(f"the prefix is longer than S3's {MAX_KEY_BYTES}-byte keys allow", "Use a shorter prefix.")
    return S3Uri(bucket, normalised)


def _check_bucket(bucket: str, refuse: Callable[..., UsageError]) -> None:
    if not _BUCKET.match(bucket) or ".." in bucket:
        raise refuse(
            f"'{shown_url(bucket)}' is not a valid bucket name",
            "Bucket names have 3-63 characters: lower-case letters, digits, dots and hyphens, "
            "beginning and ending with a letter or digit. " + _FORM,
        )
    try:
        ipaddress.ip_address(bucket)
    except ValueError:
        return
    raise refuse(f"'{bucket}' is an IP address, not a bucket name")
