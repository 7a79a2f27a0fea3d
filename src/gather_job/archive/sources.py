"""Where a many-asset run's results are read from and written to: local files and `s3://` keys.

The results are the run's only record of thousands of checked assets, so the places they go are
checked before the first asset (a missing bucket is exit 2 then, not a traceback an hour later),
and `--resume`, `--output` and `summary` read an `s3://` key the same way: an absent key is either
"nothing done yet" (resume) or exit 2 naming the URL (summary), never botocore's own error.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from gather_job.errors import ExitCode, GatherError, ServiceError, UsageError
from gather_job.storage import s3uri

_KEY_HINT = "Give the key of a results object (s3://bucket/recheck/shard-0.jsonl) or a prefix ending in '/'."


def object_key(source: str, setting: str) -> tuple[str, str]:
    """The bucket and key an `s3://` results URL names, as written (S3 keys are literal).

    Refused (exit 2) when it names no object: `s3://bucket` alone would reach botocore as an empty
    key, which it rejects with a traceback instead of a message.
    """
    uri = s3uri.parse(source, setting)
    key = source[len(f"{s3uri.SCHEME}{uri.bucket}/") :]
    if not key or key.endswith("/"):
        shown = s3uri.shown_url(source)
        raise UsageError(f"{setting} {shown} names no object, only a bucket or prefix.", hint=_KEY_HINT)
    return uri.bucket, key


def read_key(bucket: str, key: str, clients: Any, *, missing_ok: bool, setting: str) -> str | None:
    """One object's text; None when it does not exist and `missing_ok`, else exit 2 naming the URL."""
    from gather_job import aws

    url = f"{s3uri.SCHEME}{bucket}/{key}"
    try:
        with aws.translated("reading", url, permission="s3:GetObject"):
            body = clients.s3().get_object(Bucket=bucket, Key=key)["Body"].read()
    except aws.NotFound:
        if missing_ok:
            return None
        raise UsageError(
            f"{setting} {s3uri.shown_url(url)} does not exist.",
            hint=f"Check the key (aws s3 ls s3://{bucket}/ lists what is there). {_KEY_HINT}",
        ) from None
    return str(body.decode("utf-8", errors="replace"))


def _s3_texts(source: str, clients: Any, *, missing_ok: bool, setting: str) -> Iterator[tuple[str, str]]:
    """Every results object an `s3://` key or prefix (ending in '/': its `.jsonl` objects) names, with its URL."""
    from gather_job import aws

    if not source.endswith("/"):
        bucket, key = object_key(source, setting)
        text = read_key(bucket, key, clients, missing_ok=missing_ok, setting=setting)
        if text is not None:
            yield source, text
        return
    uri = s3uri.parse(source, setting)
    with aws.translated("listing", source, permission=f"s3:ListBucket on {uri.bucket}"):
        pages = clients.s3().get_paginator("list_objects_v2").paginate(Bucket=uri.bucket, Prefix=uri.prefix)
        keys = sorted(str(i["Key"]) for p in pages for i in p.get("Contents", []) if str(i["Key"]).endswith(".jsonl"))
    if not keys and not missing_ok:
        shown = s3uri.shown_url(source)
        raise UsageError(f"No .jsonl results under {shown}.", hint="Give the prefix the shards wrote to.")
    for key in keys:
        text = read_key(uri.bucket, key, clients, missing_ok=True, setting=setting)  # deleted since the listing
        if text is not None:
            yield f"{s3uri.SCHEME}{uri.bucket}/{key}", text


def read_named(sources: Iterable[str], clients: Any) -> Iterator[tuple[str, str]]:
    """`summary`'s input, each with the name it is reported under (a shard not finished is named)."""
    for source in sources:
        if s3uri.location(source, "RESULTS") is None:
            try:
                yield source, Path(source).read_text(encoding="utf-8", errors="replace")
            except OSError as exc:
                raise UsageError(f"Results file {source} cannot be read: {exc.strerror or exc}.") from exc
            continue
        yield from _s3_texts(source, clients, missing_ok=False, setting="RESULTS")


def read_results(sources: Iterable[str], clients: Any) -> Iterator[str]:
    """`summary`'s input: local files, `s3://` keys, and every .jsonl under an `s3://` prefix."""
    return (text for _, text in read_named(sources, clients))


def read_resume(path: str, clients: Any) -> str:
    """`--resume`'s results, local or on S3 (where `--output` may have put them); absent: nothing done yet.

    Without reading `s3://` here, `s3://bucket/key` would be taken as the local path `s3:/bucket/key`,
    found missing, and the whole archive checked again without a word.
    """
    if s3uri.location(path, "--resume") is None:
        try:
            return Path(path).read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""  # the first run of a resumable job
        except OSError as exc:
            raise UsageError(f"--resume {path} cannot be read: {exc.strerror or exc}.") from exc
    if clients is None:
        from gather_job.aws import Clients
        from gather_job.settings.model import JobSettings

        clients = Clients(JobSettings())
    return "\n".join(text for _, text in _s3_texts(path, clients, missing_ok=True, setting="--resume"))


def identity(asset: str) -> str:
    """One spelling per asset, for shards, `--resume` and `summary` (records keep the PATH as given).

    `s3://b/x` and `s3://b/x/` name one prefix, `dir/x`, `./dir/x` and `dir/x/` one folder: without
    this, a list written without the trailing '/' and an `--each` that writes it would each check
    and count the asset once, and a shard would take it or not by its spelling. Only the spelling is
    made one (lexically, never through the file system: the same on every machine), and a spelling
    already in this form is kept as it is, so the shard split of such lists does not move. A doubled
    '/' inside an S3 prefix stays: S3 keeps it as another prefix (`listing.literal_problem`).
    """
    if s3uri.is_s3(asset):
        return asset if asset.endswith("/") else asset + "/"
    return os.path.normpath(asset)


def resume_includes(resume: str | None, output: str | None) -> bool:
    """Whether `--resume` reads the results `--output` names: the same file or key, or a `.jsonl` key under
    a resumed prefix (`--resume s3://b/recheck/ --output s3://b/recheck/shard-0.jsonl`). Then the output is
    appended to, never replaced: its records are what the run skips."""
    if same_results(resume, output):
        return True
    if not resume or not output or not resume.endswith("/") or not s3uri.is_s3(resume) or not s3uri.is_s3(output):
        return False
    try:
        uri, (bucket, key) = s3uri.parse(resume, "--resume"), object_key(output, "--output")
    except UsageError:
        return False
    return bucket == uri.bucket and key.startswith(uri.prefix) and key.endswith(".jsonl")


def refuse_inside(output: str, assets: Iterable[str], each: str | None) -> None:
    """Refuse (exit 2) an `--output` inside a folder or prefix this run checks, before any file is opened.

    As `check PATH --output` refuses it for one asset: the results would replace or add a file of an
    asset (its subject.json, read after being cut short), and the job never writes into its inputs.
    Compared by identity (device and inode) of the output's existing folders, so a symlink or a bind
    mount is seen through; one stat per asset. Under `--each PARENT` every folder of PARENT is refused,
    asset or not yet: a results file there would be part of a folder the next run checks. A file
    directly in PARENT is accepted (`--each` lists folders only). An `s3://` output follows the same
    rule on keys (`_refuse_inside_s3`).
    """
    if s3uri.is_s3(output):
        _refuse_inside_s3(output, assets, each)
        return
    real = Path(os.path.realpath(output))
    folders: dict[tuple[int, int], Path] = {}
    for folder in real.parents:
        try:
            info = folder.stat()
        except OSError:
            continue
        folders.setdefault((info.st_dev, info.st_ino), folder)
    hint = "Write the results outside the checked folders, for example next to them (or to an s3:// key)."
    for asset in assets:
        if s3uri.is_s3(asset):
            continue
        try:
            info = Path(asset).stat()
        except OSError:
            continue  # not there: it holds nothing, and its check says so
        if (info.st_dev, info.st_ino) in folders:
            raise UsageError(
                f"--output {output} is inside the asset {asset}, which this run checks: the results would replace "
                "or add a file of the asset, and gather-job never writes into what it checks; nothing was written.",
                hint=hint,
            )
    if not each or s3uri.is_s3(each):
        return
    try:
        info = Path(each).stat()
    except OSError:
        return
    parent = folders.get((info.st_dev, info.st_ino))
    if parent is not None and real.parent != parent:
        child = real.relative_to(parent).parts[0]
        raise UsageError(
            f"--output {output} is inside {Path(each) / child}, a folder of --each {each}, where this run and "
            "the next look for assets: the results would become part of one; nothing was written.",
            hint=f"Write the results next to the assets' folders (directly in {each}) or outside it.",
        )


def _refuse_inside_s3(output: str, assets: Iterable[str], each: str | None) -> None:
    """`refuse_inside` for an `s3://` `--output`: the same rule, on keys as S3 keeps them (literally).

    Inside an asset's prefix, refused; under `--each PARENT`, a key in a prefix of PARENT is refused
    (that prefix is, or may become, an asset the next run lists), and a key directly under PARENT is
    accepted: it is next to the assets, inside none, and the next `--each` lists prefixes, not it.
    """
    from gather_job.archive.listing import literal

    bucket, key = object_key(output, "--output")
    shown = s3uri.shown_url(output)
    hint = "Write the results outside the checked prefixes, for example directly under --each PARENT or elsewhere."
    for asset in assets:
        named = literal(asset)
        if named is not None and named[0] == bucket and key.startswith(named[1]):
            raise UsageError(
                f"--output {shown} is inside the asset {s3uri.shown_url(asset)}, which this run checks: the results "
                "would replace or add an object of the asset, and gather-job never writes into what it checks; "
                "nothing was written.",
                hint=hint,
            )
    parent = literal(each) if each else None
    if parent is None or parent[0] != bucket or not key.startswith(parent[1]) or "/" not in key[len(parent[1]) :]:
        return
    child = f"{s3uri.SCHEME}{bucket}/{parent[1]}{key[len(parent[1]) :].split('/')[0]}/"
    raise UsageError(
        f"--output {shown} is inside {s3uri.shown_url(child)}, a prefix of --each {s3uri.shown_url(str(each))}, "
        "where this run and the next look for assets: the results would become part of one; nothing was written.",
        hint=f"Write the results next to the assets' prefixes (directly under {s3uri.shown_url(str(each))}) or "
        "outside it.",
    )


def same_results(resume: str | None, output: str | None) -> bool:
    """Whether `--resume` and `--output` name one file (`./r.jsonl` and `r.jsonl`) or one S3 key: then append."""
    if not resume or not output:
        return False
    if resume == output:
        return True
    if s3uri.is_s3(resume) or s3uri.is_s3(output):
        try:
            return object_key(resume, "--resume") == object_key(output, "--output")
        except UsageError:
            return False
    try:
        return Path(resume).samefile(output)
    except OSError:  # one is not there yet: compare where they would be
        return os.path.realpath(resume) == os.path.realpath(output)


def check_bucket(bucket: str, output: str, clients: Any) -> None:
    """Refuse (exit 2) an `--output` whose bucket does not exist, before any asset is checked.

    A HEAD of the bucket needs s3:ListBucket, which a writer may lack: a 403 is let through (the
    upload at the end says, and the local copy of the results is kept then).
    """
    from botocore.exceptions import ClientError

    from gather_job import aws

    try:
        with aws.translated("checking the bucket of", output, permission=f"s3:ListBucket on {bucket}"):
            try:
                clients.s3().head_bucket(Bucket=bucket)
            except ClientError as exc:
                if aws.error_code(exc)[1] == 403:
                    return
                raise
    except aws.NotFound:
        raise UsageError(
            f"--output {s3uri.shown_url(output)}: the bucket '{bucket}' does not exist, so the results could not "
            "be written; no asset was checked.",
            hint="Create the bucket, or give --output a bucket that exists (or a local file).",
        ) from None


def staged(output: str, *, append: bool, clients: Any) -> tuple[IO[str], Callable[[], None]]:
    """A local file the results of an `s3://` `--output` are written to, and the upload that ends the run.

    Checked first (the key names an object, its bucket exists). When appending (resuming into the
    same key) it starts with what the key holds. If the upload fails, the file is kept and the error
    names it: an hour of checking is not lost to a typo in a bucket name or an expired role.
    """
    import tempfile

    from gather_job import aws

    bucket, key = object_key(output, "--output")
    check_bucket(bucket, output, clients)
    earlier = (read_key(bucket, key, clients, missing_ok=True, setting="--output") or "") if append else ""
    local = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed by the Sink)
        "w+", encoding="utf-8", prefix="gather-job-results-", suffix=".jsonl", delete=False
    )
    local.write(earlier + ("\n" if earlier and not earlier.endswith("\n") else ""))

    def upload() -> None:
        from boto3.exceptions import S3UploadFailedError
        from botocore.exceptions import ClientError

        local.flush()
        try:
            with aws.translated("writing", output, permission="s3:PutObject"):
                try:
                    clients.s3().upload_file(local.name, bucket, key, ExtraArgs={"ContentType": "application/x-ndjson"})
                except S3UploadFailedError as exc:  # boto3 wraps the ClientError: unwrap it for `translated`
                    if isinstance(exc.__context__, ClientError):
                        raise exc.__context__ from None
                    raise ServiceError(f"AWS failed while writing {output}: {exc}.", hint="Retry later.") from exc
        except (GatherError, aws.NotFound) as exc:
            raise kept(exc, local.name, output) from exc

    return local, upload


def kept(exc: Exception, local: str, output: str) -> GatherError:
    """The error of a failed upload at the end: what S3 said, and where the results are kept instead."""
    said = exc.message if isinstance(exc, GatherError) else str(exc)
    hint = (exc.hint + " " if isinstance(exc, GatherError) and exc.hint else "") + (
        f"Then copy them there (aws s3 cp {local} {output}), or give --resume {local} to go on from them."
    )
    failure = ServiceError if getattr(exc, "exit_code", None) == ExitCode.SERVICE else UsageError
    return failure(f"The results could not be written to {output}: {said} They are kept in {local}.", hint=hint)
