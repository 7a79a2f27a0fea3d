"""Writing the gathered files under an S3 prefix, with checksums, the report last.

A prefix holds an asset when `{prefix}gather_report.json` exists (the local rule). The report is
always the last object written, so a prefix without it is known to be incomplete, and a rerun with
the default policy completes it. `if_exists`:

- `overwrite`: the old report is deleted first, every file is written, core files of an earlier
  run that this run does not write are deleted, then the report is written.
- `skip`: a prefix holding an asset is left alone (exit 0); otherwise as `overwrite`.
- `error`: a prefix holding an asset, or any object this run would write, is refused (exit 5);
  otherwise every object is written with `IfNoneMatch="*"` in sorted order, the report last. A
  conditional write never replaces an object, and two racing jobs write the same keys in the
  same order, so the first key decides: the loser stops there, having overwritten nothing.

Every object is sent with its SHA-256 and checked afterwards with `head_object(ChecksumMode=
"ENABLED")`; a difference is exit 4 naming the key. Objects of `multipart_threshold` bytes or more go
through boto3's managed transfer (see `composite_sha256` for how they are checked).
"""

from __future__ import annotations

import base64
import hashlib
import io
import uuid
from collections.abc import Mapping
from typing import Any

from gather_job import aws
from gather_job.errors import OutputRefused, ServiceError
from gather_job.storage.s3_folder import list_children
from gather_job.storage.s3uri import S3Uri
from gather_job.storage.target import ORIGINALS, OUR_FILES, REPORT_NAME, Hook, Originals, proceed

MULTIPART_THRESHOLD = 8 * 1024 * 1024  # boto3's default threshold and part size
PART_SIZE = 8 * 1024 * 1024
CONTENT_TYPE = "application/json"


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def composite_sha256(data: bytes, part_size: int) -> str:
    """The checksum S3 gives a multipart object uploaded with ChecksumAlgorithm=SHA256.

    S3 keeps no SHA-256 of the whole object then: it stores a *composite*, the SHA-256 of the
    concatenated binary SHA-256s of the parts, followed by "-<number of parts>". The parts are cut
    by s3transfer at the chunk size its own `ChunksizeAdjuster` picks for this size, so computing
    the same digests over the same cuts of the bytes we sent verifies every byte of every part.
    """
    cuts = range(0, max(len(data), 1), part_size)
    digests = b"".join(hashlib.sha256(data[start : start + part_size]).digest() for start in cuts)
    return f"{_b64(hashlib.sha256(digests).digest())}-{len(cuts)}"


def _same_checksum(stored: str | None, expected: str) -> bool:
    """Compare, accepting a composite with or without its "-N" suffix (some S3-compatible stores omit it)."""
    if not stored:
        return False
    value, _, parts = stored.partition("-")
    want, _, want_parts = expected.partition("-")
    return value == want and (not parts or parts == want_parts)


class S3Target:
    """The output prefix of one run (`output_dir: s3://bucket/prefix/`)."""

    def __init__(
        self,
        uri: S3Uri,
        client: Any,
        policy: str,
        *,
        hook: Hook | None = None,
        multipart_threshold: int = MULTIPART_THRESHOLD,
        part_size: int = PART_SIZE,
    ) -> None:
        self.uri = uri
        self.client = client
        self.policy = policy
        self.pause = hook or (lambda step: None)
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        self._existing: set[str] | None = None

    @property
    def label(self) -> str:
        return self.uri.label

    def _names_there(self) -> set[str]:
        if self._existing is None:
            self._existing = set(list_children(self.client, self.uri, "output_dir").objects)
        return self._existing

    def prepare(self) -> bool:
        """Apply `if_exists` before any work; False means skip (exit 0 without writing)."""
        return proceed(REPORT_NAME in self._names_there(), self.policy, str(self.uri))

    def write(
        self,
        files: Mapping[str, bytes],
        report: bytes,
        *,
        inputs: frozenset[str],
        originals: Originals,
        invalid: bool,
    ) -> list[str]:
        """Write `files` and the kept originals, then the report; return the names written.

        Inputs in this prefix are never rewritten; an invalid run leaves a complete earlier asset alone.
        """
        names = [name for name in sorted(files) if self.uri.url(name) not in inputs]
        there = self._names_there()
        if invalid and REPORT_NAME in there:
            return []
        conditional = self.policy == "error"
        kept = [f"{ORIGINALS}/{name}" for name in sorted(originals)]
        if conditional:
            clash = sorted(there & {*names, REPORT_NAME})
            if clash:
                raise OutputRefused(
                    f"output_dir '{self.uri}' holds {', '.join(clash)} from an unfinished earlier run "
                    f"(no {REPORT_NAME}), and if_exists is 'error'.",
                    hint="Set if_exists to overwrite to complete it, or remove those objects.",
                )
        elif REPORT_NAME in there:
            self._delete(REPORT_NAME)  # until the new report lands, the prefix is visibly incomplete
        for name in names:
            self._put(name, files[name], conditional=conditional)
        for key, name in zip(kept, sorted(originals), strict=True):
            self._put(key, originals[name](), conditional=False)
        if not conditional:
            stale = (there & OUR_FILES) - {*names, REPORT_NAME}
            stale |= set(self._kept_there()) - set(kept)
            for name in sorted(n for n in stale if self.uri.url(n) not in inputs):
                self._delete(name)
        self._put(REPORT_NAME, report, conditional=conditional)
        return [*names, *kept, REPORT_NAME]

    def _kept_there(self) -> list[str]:
        """The originals an earlier run kept under this prefix."""
        sub = S3Uri(self.uri.bucket, f"{self.uri.prefix}{ORIGINALS}/")
        return [f"{ORIGINALS}/{name}" for name in list_children(self.client, sub, "output_dir").objects]

    def _delete(self, name: str) -> None:
        self.pause(f"delete:{name}")
        with aws.translated("deleting", self.uri.url(name), permission="s3:DeleteObject"):
            self.client.delete_object(Bucket=self.uri.bucket, Key=self.uri.key(name))

    def _put(self, name: str, data: bytes, *, conditional: bool) -> None:
        where = self.uri.url(name)
        self.pause(f"put:{name}")
        with aws.translated("writing", where, permission="s3:PutObject"):
            if len(data) >= self.multipart_threshold:
                expected = self._upload_managed(self.uri.key(name), data, conditional=conditional)
            else:
                expected = _b64(hashlib.sha256(data).digest())
                self.client.put_object(
                    Bucket=self.uri.bucket,
                    Key=self.uri.key(name),
                    Body=data,
                    ContentType=CONTENT_TYPE,
                    ChecksumAlgorithm="SHA256",
                    ChecksumSHA256=expected,
                    **({"IfNoneMatch": "*"} if conditional else {}),
                )
        try:
            self._verify(name, len(data), expected)
        except ServiceError:
            if name == REPORT_NAME:  # a damaged report must not mark the prefix complete
                with aws.translated("deleting", where, permission="s3:DeleteObject"):
                    self.client.delete_object(Bucket=self.uri.bucket, Key=self.uri.key(name))
            raise

    def _upload_managed(self, key: str, data: bytes, *, conditional: bool) -> str:
        """Multipart upload through boto3's transfer manager; returns the composite checksum to expect.

        s3transfer does not pass IfNoneMatch on, so for `error` a handler adds it to this key's
        CompleteMultipartUpload: that call is the one that makes the object exist, and it is the one
        S3 evaluates the condition on (the parts of a lost upload are aborted by s3transfer).
        """
        from boto3.s3.transfer import TransferConfig
        from s3transfer.utils import ChunksizeAdjuster

        config = TransferConfig(
            multipart_threshold=self.multipart_threshold,
            multipart_chunksize=self.part_size,
            preferred_transfer_client="classic",  # the CRT client may cut parts differently
        )
        event = "before-parameter-build.s3.CompleteMultipartUpload"
        handler_id = f"gather-job-if-none-match-{uuid.uuid4().hex}"

        def if_none_match(params: dict[str, Any], **_: Any) -> None:
            if params.get("Bucket") == self.uri.bucket and params.get("Key") == key:
                params["IfNoneMatch"] = "*"

        if conditional:
            self.client.meta.events.register(event, if_none_match, unique_id=handler_id)
        try:
            self.client.upload_fileobj(
                io.BytesIO(data),
                self.uri.bucket,
                key,
                ExtraArgs={"ChecksumAlgorithm": "SHA256", "ContentType": CONTENT_TYPE},
                Config=config,
            )
        finally:
            if conditional:
                self.client.meta.events.unregister(event, unique_id=handler_id)
        return composite_sha256(data, ChunksizeAdjuster().adjust_chunksize(self.part_size, len(data)))

    def _verify(self, name: str, size: int, expected: str) -> None:
        where = self.uri.url(name)
        try:
            with aws.translated("checking", where, permission="s3:GetObject"):
                head = self.client.head_object(Bucket=self.uri.bucket, Key=self.uri.key(name), ChecksumMode="ENABLED")
        except aws.NotFound:
            head = {}  # gone right after it was written (another job's overwrite, a lifecycle rule)
        stored = head.get("ChecksumSHA256")
        stored_size = head.get("ContentLength")
        if stored_size == size and _same_checksum(stored, expected):
            return
        raise ServiceError(
            f"{where} is not what the job sent: the store reports {stored_size} bytes with SHA-256 {stored!r}, "
            f"the job sent {size} bytes with SHA-256 {expected!r}.",
            hint=f"The upload was damaged, or the store does not keep S3 checksums. Retry later; until a run "
            f"completes, the prefix has no {REPORT_NAME} and counts as incomplete.",
        )
