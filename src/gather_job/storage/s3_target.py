"""Writing the gathered files under an S3 prefix, with checksums, the report last, one run at a time.

A prefix holds an asset when `{prefix}gather_report.json` says its run wrote its files (the local rule,
`earlier_run.holds_asset`: a report-only invalid run's report does not count). The report is
always the last object written, so a prefix without it is known to be incomplete, and a rerun with
the default policy completes it.

One run at a time: right before its first write a run claims the prefix (`s3_claim`: a claim object
created with `IfNoneMatch="*"`, renewed before each step, deleted at the end; a live claim is waited
for, a stale one taken over), then lists the prefix again and decides `if_exists` once more on what
is there *now*, as a local run decides again under the folder's lock. Every object is then written
or deleted on the condition that it is still what that listing showed (`IfMatch` its ETag, or
`IfNoneMatch="*"` where there was none), and before the report the prefix is listed once more: the
objects must be the ones this run wrote. So a run that outlived its claim (a step slower than the
lease) cannot slip its objects under another run's report: its next conditional write fails, or the
other run's check before its report does, and whichever run stops leaves no report of its own.

- `overwrite`: the old report is deleted first, every file is written, core files and kept originals
  of an earlier run that this run does not write are deleted, then the report is written.
- `skip`: a prefix holding an asset is left alone (exit 0); otherwise as `overwrite`.
- `error`: a prefix holding an asset, or any object of an unfinished run, is refused (exit 5), also
  when another run completed it while this one gathered; otherwise every object is created with
  `IfNoneMatch="*"`, the report last.
- an invalid run (report only) leaves a complete asset alone, and over an unfinished one leaves
  only its report (with `overwrite`).

Every object is sent with its SHA-256 and checked afterwards with `head_object(ChecksumMode=
"ENABLED")`; a difference is exit 4 naming the key. Objects of `multipart_threshold` bytes or more go
through boto3's managed transfer (see `composite_sha256` for how they are checked).
"""

from __future__ import annotations

import base64
import hashlib
import io
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from gather_job import aws
from gather_job.errors import OutputRefused, ServiceError
from gather_job.storage import earlier_run, s3_claim
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
        lease_s: float = s3_claim.LEASE_S,
        wait_s: float = s3_claim.WAIT_S,
        poll_s: float = s3_claim.POLL_S,
    ) -> None:
        self.uri = uri
        self.client = client
        self.policy = policy
        self.pause = hook or (lambda step: None)
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        self.lease_s, self.wait_s, self.poll_s = lease_s, wait_s, poll_s
        self._existing: set[str] | None = None
        self._report_says: dict[str, bool] = {}  # the earlier report's ETag -> does it mark a complete asset
        self._report_raw: bytes | None = None  # the earlier report last read
        self._claim: s3_claim.Claim | None = None
        self._announced: str | None = None  # the first step, announced to the hook before the claim

    @property
    def label(self) -> str:
        return self.uri.label

    def _names_there(self) -> set[str]:
        if self._existing is None:
            self._existing = set(list_children(self.client, self.uri, "output_dir").objects)
        return self._existing

    def _holds(self, etag: str | None) -> bool:
        """Whether the report there (this ETag, None: none) marks a complete asset (`earlier_run.holds_asset`)."""
        if etag is None:
            return False
        if etag not in self._report_says:
            raw = self._read(REPORT_NAME)  # None: deleted since the listing, whatever was there is gone
            self._report_says[etag] = raw is not None and earlier_run.holds_asset(raw)
            self._report_raw = raw
        return self._report_says[etag]

    def _read(self, name: str) -> bytes | None:
        with aws.translated("reading", self.uri.url(name), permission="s3:GetObject"):
            try:
                return bytes(self.client.get_object(Bucket=self.uri.bucket, Key=self.uri.key(name))["Body"].read())
            except aws.NotFound:
                return None

    def prepare(self) -> bool:
        """Apply `if_exists` before any work; False means skip (exit 0 without writing)."""
        return proceed(self._holds(self._report_etag()), self.policy, str(self.uri))

    def _report_etag(self) -> str | None:
        if REPORT_NAME not in self._names_there():
            return None
        return self._listing().get(REPORT_NAME, "")

    def write(
        self,
        files: Mapping[str, bytes],
        report: bytes | Callable[[], bytes],
        *,
        inputs: frozenset[str],
        originals: Originals,
        invalid: bool,
        rewrite: frozenset[str] = frozenset(),
    ) -> list[str]:
        """Write the kept originals and `files`, then the report; return the names written.

        Inputs in this prefix are never rewritten, but the core files in `rewrite` (in place, kept first:
        `kept_inputs`); an invalid run leaves a complete earlier asset alone.
        """
        names = [name for name in sorted(files) if self.uri.url(name) not in inputs or name in rewrite]
        kept = {f"{ORIGINALS}/{name}": originals[name] for name in sorted(originals)}
        if invalid and self._holds(self._report_etag()):
            return []  # a complete asset is never touched by an invalid run: nothing to write, nothing to claim
        # the hook hears of the first step before the claim is taken: taking it is part of that step
        self._announced = self._first_step(names, list(kept))
        self.pause(self._announced)
        self._claim = s3_claim.acquire(
            self.client, self.uri, lease_s=self.lease_s, wait_s=self.wait_s, poll_s=self.poll_s
        )
        try:
            return self._write_claimed(files, names, kept, report, inputs=inputs, invalid=invalid)
        finally:
            self._claim.release()
            self._claim = None

    def _first_step(self, names: list[str], kept: list[str]) -> str:
        if REPORT_NAME in self._names_there() and (self.policy != "error" or not self._holds(self._report_etag())):
            return f"delete:{REPORT_NAME}"
        return f"put:{[*kept, *names, REPORT_NAME][0]}"

    def _write_claimed(
        self,
        files: Mapping[str, bytes],
        names: list[str],
        kept: Mapping[str, Callable[[], bytes]],
        report: bytes | Callable[[], bytes],
        *,
        inputs: frozenset[str],
        invalid: bool,
    ) -> list[str]:
        there = self._listing()  # under the claim: what is there now decides
        holds = self._holds(there.get(REPORT_NAME))
        ours = {name for name in there if _is_ours(name) and self.uri.url(name) not in inputs}
        if not holds:
            ours.discard(REPORT_NAME)  # a report-only (invalid) run's: nothing of an unfinished run to refuse
        if invalid and holds:
            return []  # a complete asset (perhaps completed meanwhile) is never touched by an invalid run
        if self.policy == "error" and ours:
            raise self._refusal(ours, [*kept, *names, REPORT_NAME], holds)
        if not proceed(holds, self.policy, str(self.uri)):
            return []  # skip: another run completed it while this one gathered
        marker, known = earlier_run.MARKER, dict[str, list[str]]()
        in_place = any(self.uri.url(name) in inputs for name in there)
        if in_place:  # the input prefix itself: which objects are outputs must outlive the old report
            known = earlier_run.known_outputs(
                self._report_raw if REPORT_NAME in there else None, self._read(marker) if marker in there else None
            )
            there[marker] = self._put(marker, earlier_run.marker_bytes(known), there.get(marker))
        if REPORT_NAME in there:
            self._delete(REPORT_NAME, there[REPORT_NAME])  # until the new report lands, visibly incomplete
        written: dict[str, str] = {}
        for key, read in kept.items():  # first: an input rewritten in place is kept before it is replaced
            written[key] = self._put(key, read(), there.get(key))
        for name in names:
            if in_place:  # the marker learns the new checksum before the object changes
                digest = hashlib.sha256(files[name]).hexdigest()
                if digest not in known.setdefault(name, []):
                    known[name].append(digest)
                    there[marker] = self._put(marker, earlier_run.marker_bytes(known), there[marker])
            written[name] = self._put(name, files[name], there.get(name))
        for name in sorted(ours - set(written) - {REPORT_NAME}):
            self._delete(name, there[name])  # an earlier run's core file or kept original this run does not write
        self._check_before_report(written, inputs)
        self._put(REPORT_NAME, report() if callable(report) else report, None)
        if in_place:
            self._delete(marker, there[marker])  # the report now lists what this run wrote
        return [*written, REPORT_NAME]

    def _listing(self) -> dict[str, str]:
        """Name -> ETag of the prefix's direct children and of the kept originals under it."""
        found: dict[str, str] = {}
        for prefix, name_prefix in ((self.uri.prefix, ""), (f"{self.uri.prefix}{ORIGINALS}/", f"{ORIGINALS}/")):
            with aws.translated("listing", str(self.uri), permission=f"s3:ListBucket on {self.uri.bucket}"):
                pages = self.client.get_paginator("list_objects_v2").paginate(
                    Bucket=self.uri.bucket, Prefix=prefix, Delimiter="/"
                )
                for page in pages:
                    for item in page.get("Contents", []):
                        name = str(item["Key"])[len(prefix) :]
                        if name:
                            found[name_prefix + name] = str(item.get("ETag", ""))
        return found

    def _check_before_report(self, written: Mapping[str, str], inputs: frozenset[str]) -> None:
        """The report describes what is there: every object as this run left it, no other run's beside it."""
        there = self._listing()
        changed = sorted(name for name, etag in written.items() if there.get(name) != etag)
        foreign = sorted(
            name for name in there if _is_ours(name) and name not in written and self.uri.url(name) not in inputs
        )
        if changed or foreign:
            raise self._changed((changed or foreign)[0])

    def _refusal(self, ours: set[str], order: list[str], holds: bool) -> OutputRefused:
        if holds:
            first = next((name for name in order if name in ours), REPORT_NAME)
            return OutputRefused(
                f"{self.uri.url(first)} already exists: output_dir '{self.uri}' holds a gathered asset "
                f"({REPORT_NAME} is there; another run may have completed it while this one gathered), and "
                "if_exists is 'error', so this run wrote nothing.",
                hint="Use another output_dir, remove the old result, or set if_exists to overwrite or skip.",
            )
        return OutputRefused(
            f"output_dir '{self.uri}' holds {', '.join(sorted(ours))} from an unfinished earlier run "
            f"(no {REPORT_NAME}), and if_exists is 'error'.",
            hint="Set if_exists to overwrite to complete it, or remove those objects.",
        )

    def _changed(self, name: str) -> OutputRefused:
        return OutputRefused(
            f"{self.uri.url(name)} is not what this run expected there: another writer changed it while this run "
            f"held the claim on output_dir '{self.uri}' (a run that outlived its claim, or a tool that takes "
            f"none). This run stopped before writing its {REPORT_NAME}, so the prefix stays visibly incomplete.",
            hint="Find the other writer; then rerun, and the rerun completes the prefix.",
        )

    def _step(self, step: str) -> None:
        """Announce a write step to the hook and renew the claim; the first step was announced before the
        claim was taken, which is as good as renewed."""
        first, self._announced = step == self._announced, None
        if first:
            return
        self.pause(step)
        if self._claim is not None:
            self._claim.renew()

    def _delete(self, name: str, etag: str) -> None:
        from botocore.exceptions import ClientError

        self._step(f"delete:{name}")
        with aws.translated("deleting", self.uri.url(name), permission="s3:DeleteObject"):
            try:
                self.client.delete_object(Bucket=self.uri.bucket, Key=self.uri.key(name), IfMatch=etag)
            except ClientError as exc:
                if s3_claim.lost_race(exc):
                    raise self._changed(name) from None
                raise

    def _put(self, name: str, data: bytes, etag: str | None) -> str:
        """Write one object on the condition that it is as listed (`etag`, or absent); return its new ETag."""
        from botocore.exceptions import ClientError

        where = self.uri.url(name)
        condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        self._step(f"put:{name}")
        with aws.translated("writing", where, permission="s3:PutObject"):
            try:
                if len(data) >= self.multipart_threshold:
                    expected = self._upload_managed(self.uri.key(name), data, condition)
                else:
                    expected = _b64(hashlib.sha256(data).digest())
                    self.client.put_object(
                        Bucket=self.uri.bucket,
                        Key=self.uri.key(name),
                        Body=data,
                        ContentType=CONTENT_TYPE,
                        ChecksumAlgorithm="SHA256",
                        ChecksumSHA256=expected,
                        **condition,
                    )
            except ClientError as exc:
                if not s3_claim.lost_race(exc):
                    raise
                if self.policy == "error":
                    raise OutputRefused(
                        f"{where} already exists, so it was not overwritten (if_exists=error): another run wrote "
                        "it while this one held the claim (a run that outlived its claim, or a tool that takes none).",
                        hint="Use another output_dir, or set if_exists to overwrite to replace it.",
                    ) from None
                raise self._changed(name) from None
        try:
            return self._verify(name, len(data), expected)
        except ServiceError:
            if name == REPORT_NAME:  # a damaged report must not mark the prefix complete
                with aws.translated("deleting", where, permission="s3:DeleteObject"):
                    self.client.delete_object(Bucket=self.uri.bucket, Key=self.uri.key(name))
            raise

    def _upload_managed(self, key: str, data: bytes, condition: Mapping[str, str]) -> str:
        """Multipart upload through boto3's transfer manager; returns the composite checksum to expect.

        s3transfer does not pass IfNoneMatch/IfMatch on, so a handler adds the condition to this key's
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
        handler_id = f"gather-job-condition-{uuid.uuid4().hex}"

        def conditioned(params: dict[str, Any], **_: Any) -> None:
            if params.get("Bucket") == self.uri.bucket and params.get("Key") == key:
                params.update(condition)

        self.client.meta.events.register(event, conditioned, unique_id=handler_id)
        try:
            self.client.upload_fileobj(
                io.BytesIO(data),
                self.uri.bucket,
                key,
                ExtraArgs={"ChecksumAlgorithm": "SHA256", "ContentType": CONTENT_TYPE},
                Config=config,
            )
        finally:
            self.client.meta.events.unregister(event, unique_id=handler_id)
        return composite_sha256(data, ChunksizeAdjuster().adjust_chunksize(self.part_size, len(data)))

    def _verify(self, name: str, size: int, expected: str) -> str:
        """Check the stored object's size and SHA-256; return its ETag (for the check before the report)."""
        where = self.uri.url(name)
        try:
            with aws.translated("checking", where, permission="s3:GetObject"):
                head = self.client.head_object(Bucket=self.uri.bucket, Key=self.uri.key(name), ChecksumMode="ENABLED")
        except aws.NotFound:
            head = {}  # gone right after it was written (another job's overwrite, a lifecycle rule)
        stored = head.get("ChecksumSHA256")
        stored_size = head.get("ContentLength")
        if stored_size == size and _same_checksum(stored, expected):
            return str(head.get("ETag", ""))
        raise ServiceError(
            f"{where} is not what the job sent: the store reports {stored_size} bytes with SHA-256 {stored!r}, "
            f"the job sent {size} bytes with SHA-256 {expected!r}.",
            hint=f"The upload was damaged, or the store does not keep S3 checksums. Retry later; until a run "
            f"completes, the prefix has no {REPORT_NAME} and counts as incomplete.",
        )


def _is_ours(name: str) -> bool:
    """A core file, the report, or a kept original: what a run writes and may delete under its prefix."""
    return name in OUR_FILES or name.startswith(f"{ORIGINALS}/")
