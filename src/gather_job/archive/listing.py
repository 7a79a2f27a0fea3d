"""Which assets a many-asset `check` runs over: the list, `--each`, shards and `--resume`.

`--shard I/N` keeps a stable 1/N of the list (a hash of each path, the same on every machine, so N
array tasks split it without talking to each other); `--resume RESULTS.jsonl` drops the assets an
earlier run's results already hold (a run killed at asset 40,000 of 50,000 goes on from there).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gather_job.errors import UsageError
from gather_job.schema import CORE_FILES
from gather_job.storage.s3uri import SCHEME

SHARD_ENVIRONMENT = ("AWS_BATCH_JOB_ARRAY_INDEX", "SLURM_ARRAY_TASK_ID")


def is_core_name(name: str) -> bool:
    """A name an asset's metadata folder holds: `<kind>.json`, a part `<kind>_*.json`, or one meant as either.

    An asset whose only metadata is aind-data-schema 1.x (`session.json`, `rig.json`) or misnamed
    (`Subject.json`) is still an asset: checked, it gets the findings that say so, instead of being
    left out of the run unseen.
    """
    if name.endswith(".json") and name.startswith(CORE_FILES):
        return True
    from gather_job.pipeline.misnamed import intended
    from gather_job.pipeline.plan import LEGACY_NAMES

    return name in LEGACY_NAMES or intended(name) is not None


@dataclass(frozen=True)
class Shard:
    index: int
    count: int

    def takes(self, asset: str) -> bool:
        digest = hashlib.sha256(asset.encode("utf-8", "surrogateescape")).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index


def parse_shard(text: str, environ: Mapping[str, str]) -> Shard:
    """`I/N`, where I may be `auto`: the array index AWS Batch or Slurm gives the task."""
    index_text, _, count_text = text.partition("/")
    if index_text == "auto":
        found = next((environ[name] for name in SHARD_ENVIRONMENT if environ.get(name, "").strip()), None)
        if found is None:
            raise UsageError(
                f"--shard {text}: no array index in the environment ({' or '.join(SHARD_ENVIRONMENT)}).",
                hint="Run it as an AWS Batch or Slurm array task, or give the index: --shard 3/16.",
            )
        index_text = found.strip()
    try:
        index, count = int(index_text), int(count_text)
    except ValueError:
        raise UsageError(f"--shard {text!r} is not I/N.", hint="For example --shard 0/16 (I from 0 to N-1).") from None
    if count < 1 or not 0 <= index < count:
        raise UsageError(f"--shard {text!r}: I must be between 0 and N-1.", hint="For example --shard 0/16.")
    return Shard(index, count)


def done_assets(path: str, clients: Any = None) -> set[str]:
    """The assets an earlier run's JSON Lines results already hold (their `asset` records), local or on S3.

    Only records `summary` would count: a hand-edited record it skips is run again, not trusted.
    """
    from gather_job.archive import results, sources

    text = sources.read_resume(path, clients)
    return {found[0] for found in results.asset_records(text) if found is not None}


def children(parent: str, clients: Any) -> list[str]:
    """The folders or prefixes directly under `parent`: the candidate assets (see `holding_metadata`).

    On S3 this is one delimited listing of the parent (a page per 1,000 children), never a listing
    of the data objects below them: an archive's assets hold millions of those.
    """
    from gather_job.storage import s3uri

    uri = s3uri.location(parent, "--each")
    if uri is None:
        root = Path(parent)
        if not root.is_dir():
            raise UsageError(f"--each {parent}: not a folder.", hint="Give the folder that holds the assets.")
        return [str(child) for child in sorted(root.iterdir()) if child.is_dir()]
    from gather_job import aws

    found: list[str] = []
    client = clients.s3()
    with aws.translated("listing", f"--each {uri}", permission=f"s3:ListBucket on {uri.bucket}"):
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=uri.bucket, Prefix=uri.prefix, Delimiter="/")
        for page in pages:
            found += [f"{SCHEME}{uri.bucket}/{common['Prefix']}" for common in page.get("CommonPrefixes", [])]
    return sorted(found)


def literal(candidate: str) -> tuple[str, str] | None:
    """The bucket and prefix an `s3://` path names as S3 keeps it (keys are literal); None if not s3://.

    `s3uri.parse` refuses or normalises some prefixes S3 holds (`bad\\x1b[31m/`, `./`, `/`, `x//`):
    listing the literal prefix says whether such a child holds metadata at all.
    """
    if not candidate.startswith(SCHEME):
        return None
    bucket, _, prefix = candidate[len(SCHEME) :].partition("/")
    return bucket, prefix if not prefix or prefix.endswith("/") else prefix + "/"


def literal_problem(asset: str) -> UsageError | None:
    """Why an `s3://` asset cannot be checked as the prefix it names: `s3://b//` or `s3://b/x//`.

    A key that starts with '/' or holds '//' is kept literally by S3, but gather-job would read
    the normalised prefix (the bucket's root, `x/`) in its place: another folder, so the asset would
    pass unseen. It gets its own record instead. (Names `s3uri.parse` refuses outright need nothing
    here: the asset's check says why, as `check PATH` alone does.)
    """
    from gather_job.storage import s3uri

    named = literal(asset)
    try:
        uri = s3uri.location(asset, "metadata_dir")
    except UsageError:
        return None
    if named is None or uri is None or named[1] == uri.prefix:
        return None
    return UsageError(
        f"{s3uri.shown_url(asset)} is the S3 prefix '{s3uri.shown_url(named[1])}' (a key starting with '/' or "
        f"holding '//'), which gather-job would read as '{uri}', another folder, so it is not checked.",
        hint="Copy its objects to a prefix without the empty segment (for example with a script that renames "
        "the keys), then check that prefix.",
    )


def holding_metadata(candidates: list[str], clients: Any, threads: int = 16) -> list[str]:
    """The candidates that hold core metadata files (the assets), in order: one small listing each.

    Run after sharding and --resume, so each array task lists only its own share; on S3 the
    listings overlap (threads), as each is a round trip of a few tens of milliseconds, no more
    threads than the S3 client keeps connections (more would open and drop one per listing).
    A candidate that cannot be listed is kept: its check reports the problem as that asset's own
    record, where one odd child would otherwise stop the whole archive.
    """
    from concurrent.futures import ThreadPoolExecutor

    from gather_job import aws
    from gather_job.errors import GatherError
    from gather_job.storage import s3uri

    client: Any = clients.s3() if any(literal(c) for c in candidates) else None  # made once, before the threads

    def holds(candidate: str) -> bool:
        named = literal(candidate)
        if named is None:
            try:
                return any(is_core_name(entry.name) for entry in Path(candidate).iterdir())
            except OSError:
                return True  # unreadable: checked, so the problem is reported for that asset
        bucket, prefix = named
        try:
            s3uri.parse(f"{SCHEME}{bucket}/", "--each")  # a bucket name botocore would refuse with a traceback
            with aws.translated("listing", candidate, permission=f"s3:ListBucket on {bucket}"):
                pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/")
                return any(
                    is_core_name(str(item["Key"])[len(prefix) :]) for page in pages for item in page.get("Contents", [])
                )
        except (GatherError, aws.NotFound):
            return True  # checked, so the problem is reported for that asset

    if not candidates:
        return []
    pool_size = getattr(getattr(getattr(client, "meta", None), "config", None), "max_pool_connections", None)
    workers = min(threads, len(candidates), pool_size if isinstance(pool_size, int) and pool_size > 0 else threads)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return [candidate for candidate, keep in zip(candidates, pool.map(holds, candidates), strict=True) if keep]
