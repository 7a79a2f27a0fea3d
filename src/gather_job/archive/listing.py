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
    source = ""
    if index_text == "auto":
        found = next(((name, environ[name]) for name in SHARD_ENVIRONMENT if environ.get(name, "").strip()), None)
        if found is None:
            raise UsageError(
                f"--shard {text}: no array index in the environment ({' or '.join(SHARD_ENVIRONMENT)}).",
                hint="Run it as an AWS Batch or Slurm array task, or give the index: --shard 3/16.",
            )
        index_text = found[1].strip()
        source = f", read from {found[0]}={index_text}"
    try:
        index, count = int(index_text), int(count_text)
    except ValueError:
        raise UsageError(
            f"--shard {text!r} is not I/N{source}.", hint="For example --shard 0/16 (I from 0 to N-1)."
        ) from None
    if count < 1 or not 0 <= index < count:
        hint = "For example --shard 0/16."
        if source and count >= 1:  # an array numbered from 1 (`--array=1-16`) ends one past the last shard
            hint = (
                f"Number the array tasks from 0 to {count - 1}: Slurm arrays may start at 1, so give "
                f"--array=0-{count - 1} (AWS Batch indexes start at 0)."
            )
        raise UsageError(f"--shard {text!r}: I is {index}{source}; it must be between 0 and N-1.", hint=hint)
    return Shard(index, count)


def done_assets(path: str, clients: Any = None) -> set[str]:
    """The assets an earlier run's JSON Lines results hold a decided record of (`done_records`), as given.

    Only records `summary` would count: a hand-edited record it skips is run again, not trusted.
    """
    return {record[0] for record in done_records(path, clients).values()}


# Exit codes that are a verdict on the asset (clean, unusable, invalid, refused): a resumed run keeps them.
# Any other (4 the service or S3 failed, 1 a bug, 130 interrupted) says nothing about the asset, so a
# resumed run checks it again: else a retried task would repeat a transient 4 for good.
DECIDED = frozenset({0, 2, 3, 5})


def done_records(path: str, clients: Any = None) -> dict[str, tuple[str, int, dict[str, int]]]:
    """The decided `asset` records an earlier run's results hold, by `sources.identity` (an asset's last
    record; see DECIDED). Their exit codes and counts are part of a resumed run's verdict: the run is
    over its whole list."""
    from gather_job.archive import results, sources

    text = sources.read_resume(path, clients)
    found = {sources.identity(record[0]): record for record in results.asset_records(text) if record is not None}
    return {key: record for key, record in found.items() if record[1] in DECIDED}


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


ND_FILE = "metadata.nd.json"  # an uploaded asset's metadata in one document: checked, as `check PATH` checks it


def _shown_names(names: list[str], limit: int = 4) -> str:
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def why_skipped(names: list[str]) -> str:
    """Why a child holding these names (folders end in '/') is no asset: said in its `skipped` record."""
    if not names:
        return "an empty folder: no metadata file to check"
    return (
        f"no metadata file (no core .json file such as subject.json or data_description.json, no 1.x file, no "
        f"{ND_FILE}); it holds {_shown_names(names)}"
    )


def sort_children(candidates: list[str], clients: Any, threads: int = 16) -> tuple[list[str], list[tuple[str, str]]]:
    """The candidates that hold metadata (the assets), in order, and the others with why they are skipped.

    Held: core metadata files (or files meant as such) or `metadata.nd.json`, so every folder `check PATH`
    would report on is checked and reported alike. The rest (a data prefix whose metadata was never
    gathered, an empty folder) get a `skipped` record naming them: those are the assets an operator
    most needs to find. One small listing each, run after sharding and --resume, so each array task
    lists only its own share; on S3 the listings overlap (threads), as each is a round trip of a few
    tens of milliseconds, no more threads than the S3 client keeps connections (more would open and
    drop one per listing). A candidate that cannot be listed is kept: its check reports the problem as
    that asset's own record, where one odd child would otherwise stop the whole archive.
    """
    from concurrent.futures import ThreadPoolExecutor

    from gather_job import aws
    from gather_job.errors import GatherError
    from gather_job.storage import s3uri

    client: Any = clients.s3() if any(literal(c) for c in candidates) else None  # made once, before the threads

    def holds(names: list[str]) -> str | None:
        return None if any(n == ND_FILE or is_core_name(n) for n in names) else why_skipped(names)

    def sort(candidate: str) -> str | None:
        named = literal(candidate)
        if named is None:
            try:
                return holds(sorted(e.name + ("/" if e.is_dir() else "") for e in Path(candidate).iterdir()))
            except OSError:
                return None  # unreadable: checked, so the problem is reported for that asset
        bucket, prefix = named
        try:
            s3uri.parse(f"{SCHEME}{bucket}/", "--each")  # a bucket name botocore would refuse with a traceback
            with aws.translated("listing", candidate, permission=f"s3:ListBucket on {bucket}"):
                pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/")
                names: list[str] = []
                for page in pages:
                    names += [str(item["Key"])[len(prefix) :] for item in page.get("Contents", [])]
                    names += [str(common["Prefix"])[len(prefix) :] for common in page.get("CommonPrefixes", [])]
                    if holds(names) is None:
                        return None
                return holds(sorted(names))
        except (GatherError, aws.NotFound):
            return None  # checked, so the problem is reported for that asset

    if not candidates:
        return [], []
    pool_size = getattr(getattr(getattr(client, "meta", None), "config", None), "max_pool_connections", None)
    workers = min(threads, len(candidates), pool_size if isinstance(pool_size, int) and pool_size > 0 else threads)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        sorted_out = list(zip(candidates, pool.map(sort, candidates), strict=True))
    return [c for c, why in sorted_out if why is None], [(c, why) for c, why in sorted_out if why is not None]


def holding_metadata(candidates: list[str], clients: Any, threads: int = 16) -> list[str]:
    """The candidates that hold metadata (see `sort_children`)."""
    return sort_children(candidates, clients, threads)[0]


def no_asset_found(
    parent: str, listed: list[str], skipped: list[str], clients: Any, options: str = ""
) -> UsageError | None:
    """Why `--each PARENT` found no asset, when that is a mistake in PARENT; None when it is only so.

    A typo in the prefix lists nothing; an asset given as PARENT lists its modality folders; a folder
    of folders (`nest/` holding `2024/`, which holds the assets) lists folders without metadata. Each
    is exit 2 naming what was listed and where the assets are: exit 0 would let a Batch array pass
    while checking nothing. A few listings, made only when no child was an asset. `options` (the run's
    own, such as `--offline --settings-file F`) go into the command suggested, so it runs as this one would.
    """
    shown = s3uri_shown(parent)
    if sort_children([parent], clients)[0] and not literal_problem(parent):
        return UsageError(
            f"--each {shown} is itself an asset (it holds metadata files), not a folder of assets; no asset was "
            "checked.",
            hint=f"Check it alone: gather-job check {shell_word(shown)}{options}, or give --each the folder above it.",
        )
    if not listed:
        return UsageError(
            f"--each {shown} holds no folder or prefix, so no asset was checked.",
            hint="Check the name (a typo in an S3 prefix lists nothing); point --each at the parent of the assets.",
        )
    for child in skipped[:5]:
        try:
            below = children(child, clients)[:5]
        except UsageError:
            continue
        if sort_children(below, clients)[0]:
            return UsageError(
                f"--each {shown} holds no asset directly: its folders ({_shown_names(skipped)}) hold no metadata, "
                f"but the folders inside {s3uri_shown(child)} do; no asset was checked.",
                hint=f"Point --each at the parent of the assets, for example --each {s3uri_shown(child)}.",
            )
    return None


def s3uri_shown(value: str) -> str:
    """A PARENT or child as a message shows it (an S3 URL's password masked, as everywhere)."""
    from gather_job.storage import s3uri

    return s3uri.shown_url(value) if value.startswith(SCHEME) else value


def shell_word(value: str) -> str:
    """A PATH or option value as a suggested command shows it: quoted only when a shell would split it."""
    import shlex

    return shlex.quote(value)
