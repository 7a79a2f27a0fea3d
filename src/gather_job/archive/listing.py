"""Which assets a many-asset `check` runs over: the list, `--each`, shards and `--resume`.

`--shard I/N` keeps a stable 1/N of the list (a hash of each path, the same on every machine, so N
array tasks split it without talking to each other); `--resume RESULTS.jsonl` drops the assets an
earlier run's results already hold (a run killed at asset 40,000 of 50,000 goes on from there).
"""

from __future__ import annotations

import hashlib
import json
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


def done_assets(path: str) -> set[str]:
    """The assets an earlier run's JSON Lines results already hold (their `asset` records)."""
    done: set[str] = set()
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return done  # nothing done yet: the first run of a resumable job
    except OSError as exc:
        raise UsageError(f"--resume {path} cannot be read: {exc.strerror or exc}.") from exc
    for line in lines:
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue  # the last line of a killed run may be cut: that asset runs again
        if isinstance(record, dict) and record.get("type") == "asset" and isinstance(record.get("asset"), str):
            done.add(record["asset"])
    return done


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


def holding_metadata(candidates: list[str], clients: Any, threads: int = 16) -> list[str]:
    """The candidates that hold core metadata files (the assets), in order: one small listing each.

    Run after sharding and --resume, so each array task lists only its own share; on S3 the
    listings overlap (threads), as each is a round trip of a few tens of milliseconds.
    """
    from concurrent.futures import ThreadPoolExecutor

    from gather_job.storage import s3uri

    def holds(candidate: str) -> bool:
        uri = s3uri.location(candidate, "--each")
        if uri is None:
            try:
                return any(is_core_name(entry.name) for entry in Path(candidate).iterdir())
            except OSError:
                return True  # unreadable: checked, so the problem is reported for that asset
        from gather_job import aws

        client = clients.s3()
        with aws.translated("listing", candidate, permission=f"s3:ListBucket on {uri.bucket}"):
            pages = client.get_paginator("list_objects_v2").paginate(
                Bucket=uri.bucket, Prefix=uri.prefix, Delimiter="/"
            )
            return any(
                is_core_name(str(item["Key"])[len(uri.prefix) :]) for page in pages for item in page.get("Contents", [])
            )

    if not candidates:
        return []
    with ThreadPoolExecutor(max_workers=min(threads, len(candidates))) as pool:
        return [candidate for candidate, keep in zip(candidates, pool.map(holds, candidates), strict=True) if keep]
