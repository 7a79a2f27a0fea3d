"""One writer at a time under an S3 prefix: a claim object with a lease, taken and kept by conditional writes.

S3 has no lock. Before its first write under `output_dir`, a run creates `{prefix}.gather-job-claim`
with `IfNoneMatch="*"`, which S3 lets exactly one of several racing runs do. The object says who
holds the prefix (a random run id, the host, the process, when it started) and for how long its
holder promises to renew it (`lease_s`). The holder renews it before each write step (a PUT with
`IfMatch` on its own last ETag, so a run that lost its claim stops at its next step) and deletes it
(`IfMatch` again) when it is done, whatever the outcome.

A run that finds a live claim waits for it, polling, as local runs wait for the folder's lock, for
up to `wait_s`; then it stops with exit 5 naming the holder. A claim is stale when it has not been
renewed for its own `lease_s`, judged by S3's clock (the object's LastModified against the Date of
the response that read it), never by a PID and never by this machine's clock. A stale claim (a
killed run's) is taken over with `IfMatch` on its ETag, so of two runs taking it over only one can.
`wait_s` is longer than the default lease: a killed run's claim never outlasts one wait.

The name ends without `.json`, so no resolution (this job's, `check`'s) reads it as metadata, and
starts with a dot, as lock files do. No report lists it.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from gather_job import aws
from gather_job.errors import OutputRefused, UsageError
from gather_job.storage.s3uri import S3Uri

CLAIM_NAME = ".gather-job-claim"
LEASE_S = 120.0  # longer than a slow write step (botocore's retries of one 60 s read included)
WAIT_S = 150.0
POLL_S = 1.0
LOST = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey"})
_PERMISSIONS_HINT = (
    f"gather-job writes the small object {CLAIM_NAME} under the prefix while it writes there, so that two runs "
    "cannot mix their files, and deletes it when done: give the job's AWS identity s3:PutObject, s3:GetObject "
    "and s3:DeleteObject on it (for example on the prefix's objects, s3://bucket/prefix/*)."
)
log = logging.getLogger(__name__)


def lost_race(exc: Any) -> bool:
    """Whether a botocore ClientError is a condition that did not hold: another writer was there first."""
    code, status = aws.error_code(exc)
    return code in LOST or (not code and status in (409, 412))


@dataclass
class Held:
    """A claim as read from S3: its ETag, what it says, and how long ago S3 last saw it renewed."""

    etag: str
    says: dict[str, Any]
    age_s: float

    @property
    def lease_s(self) -> float:
        lease = self.says.get("lease_s")
        return float(lease) if isinstance(lease, (int, float)) and 0 < lease <= 24 * 3600 else LEASE_S

    @property
    def stale(self) -> bool:
        return self.age_s >= self.lease_s + 1.0  # HTTP dates count whole seconds

    def holder(self) -> str:
        says = self.says
        return (
            f"run {says.get('run_id', '?')} on host {says.get('host', '?')} (process {says.get('pid', '?')}, "
            f"started {says.get('started_at', '?')})"
        )


@dataclass
class Claim:
    """This run's hold on a prefix; `renew()` before each write step, `release()` at the end."""

    client: Any
    uri: S3Uri
    lease_s: float = LEASE_S
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    etag: str = ""
    renewals: int = 0

    @property
    def url(self) -> str:
        return self.uri.url(CLAIM_NAME)

    def body(self) -> bytes:
        """What the claim says; each renewal differs (and so does its ETag, which `IfMatch` relies on)."""
        return json.dumps(
            {
                "claim_version": 1,
                "tool": "gather-job",
                "run_id": self.run_id,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "started_at": self.started_at,
                "lease_s": self.lease_s,
                "renewals": self.renewals,
            }
        ).encode()

    def renew(self) -> None:
        """Extend the lease; raise OutputRefused when another run has taken the claim over meanwhile."""
        self.renewals += 1
        etag = _put(self, if_match=self.etag)
        if etag is None:
            raise OutputRefused(
                f"This run's claim on output_dir '{self.uri}' was taken over by another run while it wrote (a "
                f"step outlasted the {self.lease_s:g} s lease); it stopped before writing its report, so the "
                "prefix stays visibly incomplete until a rerun.",
                hint="Rerun; if single steps take minutes, check the network to S3.",
            )
        self.etag = etag

    def release(self) -> None:
        """Delete the claim if it is still this run's; a failure here leaves a claim that goes stale."""
        try:
            with aws.translated("releasing the claim", self.url, permission="s3:DeleteObject"):
                _delete_own(self)
        except Exception as exc:  # never hide the run's own outcome behind a clean-up failure
            log.warning(
                "could not release %s (%s); it goes stale %g s after its last renewal", self.url, exc, self.lease_s
            )


def acquire(
    client: Any, uri: S3Uri, *, lease_s: float = LEASE_S, wait_s: float = WAIT_S, poll_s: float = POLL_S
) -> Claim:
    """Claim `uri` for this run: create the claim, wait for a live one, take over a stale one."""
    claim = Claim(client, uri, lease_s)
    deadline = time.monotonic() + wait_s
    waiting = False
    while True:
        etag = _put(claim, if_none_match=True)
        if etag is not None:
            claim.etag = etag
            return claim
        held = read(client, uri)
        if held is None:
            continue  # released between the two calls: try again at once
        if held.stale:
            etag = _put(claim, if_match=held.etag)
            if etag is not None:
                log.warning("took over the stale claim of %s on %s", held.holder(), uri)
                claim.etag = etag
                return claim
        elif time.monotonic() >= deadline:
            raise OutputRefused(
                f"output_dir '{uri}' is being written by another run: {held.holder()} holds {claim.url} (renewed "
                f"{held.age_s:.0f} s ago, lease {held.lease_s:g} s), and it did not finish within {wait_s:g} s.",
                hint="Rerun once it has finished. If it was killed, its claim goes stale "
                f"{held.lease_s:g} s after its last renewal and the next run takes it over: nothing needs deleting.",
            )
        elif not waiting:
            waiting = True
            log.warning("waiting for %s to finish writing %s", held.holder(), uri)
        time.sleep(max(0.0, min(poll_s, deadline - time.monotonic())))


def read(client: Any, uri: S3Uri) -> Held | None:
    """The claim under `uri`, None when there is none; its age by S3's clock."""
    url = uri.url(CLAIM_NAME)
    try:
        with aws.translated("reading the claim", url, permission="s3:GetObject"):
            response = client.get_object(Bucket=uri.bucket, Key=uri.key(CLAIM_NAME))
            raw = response["Body"].read(64 * 1024)
    except aws.NotFound:
        return None
    except UsageError as exc:
        raise UsageError(exc.message, hint=_PERMISSIONS_HINT) from exc
    try:
        says = json.loads(raw)
    except (ValueError, RecursionError):
        says = {}
    date = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    now = parsedate_to_datetime(date) if date else datetime.now(UTC)
    modified = response.get("LastModified") or now
    return Held(str(response["ETag"]), says if isinstance(says, dict) else {}, (now - modified).total_seconds())


def _put(claim: Claim, *, if_none_match: bool = False, if_match: str | None = None) -> str | None:
    """Write the claim under a condition; its new ETag, or None when the condition did not hold."""
    from botocore.exceptions import ClientError

    condition = {"IfNoneMatch": "*"} if if_none_match else {"IfMatch": str(if_match)}
    try:
        with aws.translated("writing", claim.url, permission="s3:PutObject"):
            try:
                response = claim.client.put_object(
                    Bucket=claim.uri.bucket,
                    Key=claim.uri.key(CLAIM_NAME),
                    Body=claim.body(),
                    ContentType="application/json",
                    **condition,
                )
            except ClientError as exc:
                if lost_race(exc):
                    return None
                raise
    except UsageError as exc:
        raise UsageError(exc.message, hint=_PERMISSIONS_HINT) from exc
    return str(response["ETag"])


def _delete_own(claim: Claim) -> None:
    from botocore.exceptions import ClientError

    try:
        claim.client.delete_object(Bucket=claim.uri.bucket, Key=claim.uri.key(CLAIM_NAME), IfMatch=claim.etag)
    except ClientError as exc:
        if not lost_race(exc):  # taken over or gone: not ours to delete any more
            raise
