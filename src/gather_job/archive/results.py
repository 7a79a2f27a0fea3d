"""What a many-asset `check` reports: JSON Lines per asset, a tally, progress, a table of failures."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from gather_job.errors import ExitCode, UsageError


@dataclass
class Tally:
    """What the run saw so far: per exit code how many assets, and the assets that were not clean."""

    assets: int = 0
    by_code: dict[int, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=lambda: {"error": 0, "warning": 0, "info": 0})
    failed: list[tuple[str, int, dict[str, int]]] = field(default_factory=list)

    def add(self, asset: str, code: int, counts: Mapping[str, int]) -> None:
        self.assets += 1
        self.by_code[code] = self.by_code.get(code, 0) + 1
        for key, value in counts.items():
            self.counts[key] = self.counts.get(key, 0) + value
        if code != 0:
            self.failed.append((asset, code, dict(counts)))

    @property
    def exit_code(self) -> int:
        """0 when every asset is clean, 3 when any has errors, else the code of the assets not read."""
        if not self.failed:
            return ExitCode.OK
        if ExitCode.INVALID in self.by_code:
            return ExitCode.INVALID
        return max(code for code in self.by_code if code != 0)

    def record(self) -> dict[str, Any]:
        return {
            "type": "summary",
            "assets": self.assets,
            "exit_code": int(self.exit_code),
            "by_exit_code": {str(k): v for k, v in sorted(self.by_code.items())},
            "counts": dict(self.counts),
        }


# -- what the run shows ----------------------------------------------------------------------------------


@dataclass
class BulkOutcome:
    """What a many-asset check ends with: the tally (the exit code is its) and where the results went."""

    tally: Tally
    results: str

    @property
    def exit_code(self) -> int:
        return self.tally.exit_code


class Sink:
    """Where the JSON Lines go: standard output, a local file (appended to on --resume), or an S3 key."""

    def __init__(self, stream: IO[str], label: str, upload: Callable[[], None] | None = None) -> None:
        self.stream, self.label, self._upload = stream, label, upload

    @classmethod
    def discard(cls) -> Sink:
        import io

        return cls(io.StringIO(), "not kept (use --output)")

    @classmethod
    def open(cls, output: str | None, *, append: bool, clients: Any) -> Sink:
        import sys
        import tempfile

        from gather_job.storage import s3uri

        if not output:
            return cls(sys.stdout, "standard output")
        uri = s3uri.location(output, "--output")
        if uri is None:
            try:
                return cls(Path(output).open("a" if append else "w", encoding="utf-8"), output)
            except OSError as exc:
                raise UsageError(f"--output {output} cannot be written: {exc.strerror or exc}.") from exc
        key = output[len(f"s3://{uri.bucket}/") :]
        if not key or key.endswith("/"):
            raise UsageError(
                f"--output {output} names no object.", hint="Give a key, e.g. s3://bucket/results/0.jsonl."
            )
        local = tempfile.NamedTemporaryFile("w+", encoding="utf-8", suffix=".jsonl", delete=False)  # noqa: SIM115

        def upload() -> None:
            from gather_job import aws

            local.flush()
            with aws.translated("writing", output, permission="s3:PutObject"):
                clients.s3().upload_file(local.name, uri.bucket, key, ExtraArgs={"ContentType": "application/x-ndjson"})

        return cls(local, output, upload)

    def write(self, lines: list[str]) -> None:
        self.stream.write("".join(line + "\n" for line in lines))
        self.stream.flush()

    def close(self) -> None:
        import sys

        try:
            if self._upload is not None:
                self._upload()
        finally:
            if self.stream is not sys.stdout:
                self.stream.close()  # (a discarded stream is a StringIO, which has no name)
                if self._upload is not None:
                    Path(getattr(self.stream, "name", "")).unlink(missing_ok=True)


class Bar:
    """Progress on stderr: a bar with rate and ETA on a terminal, a line every 5% otherwise."""

    def __init__(self, stream: IO[str], total: int) -> None:
        import time

        self.stream, self.total, self.done = stream, total, 0
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.started = time.monotonic()
        self._shown = -1

    def advance(self) -> None:
        import time

        self.done += 1
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = self.done / elapsed * 60
        left = (self.total - self.done) / (self.done / elapsed)
        text = f"{self.done}/{self.total} assets checked, {rate:,.0f}/min, ETA {_duration(left)}"
        if self.tty:
            width = 30
            filled = int(width * self.done / max(self.total, 1))
            self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {text}\033[K")
            self.stream.flush()
        else:
            step = self.done * 20 // max(self.total, 1)
            if step != self._shown:
                self._shown = step
                self.stream.write(f"gather-job: {text}\n")

    def close(self) -> None:
        if self.tty and self.done:
            self.stream.write("\n")


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return (
        f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"
    )


def table(tally: Tally, limit: int = 50) -> str:
    """The assets not clean, worst first, and the totals."""
    lines = [
        f"gather-job check: {tally.assets} assets: {tally.by_code.get(0, 0)} clean, "
        f"{tally.by_code.get(3, 0)} with errors, {sum(v for k, v in tally.by_code.items() if k not in (0, 3))} "
        "not read."
    ]
    if tally.failed:
        lines.append("")
        lines.append(f"{'exit':>4}  {'errors':>6}  {'warnings':>8}  asset")
        for asset, code, counts in sorted(tally.failed, key=lambda f: (-f[1] if f[1] == 3 else 0, f[0]))[:limit]:
            lines.append(f"{code:>4}  {counts.get('error', 0):>6}  {counts.get('warning', 0):>8}  {asset}")
        if len(tally.failed) > limit:
            lines.append(f"... and {len(tally.failed) - limit} more (the JSON Lines results list them all)")
    return "\n".join(lines)


def verdict(outcome: BulkOutcome) -> str:
    tally = outcome.tally
    not_read = sum(v for k, v in tally.by_code.items() if k not in (0, 3))
    return (
        f"gather-job: verdict: {tally.assets} assets checked: {tally.by_code.get(0, 0)} clean, "
        f"{tally.by_code.get(3, 0)} with errors, {not_read} not read (exit {tally.exit_code}); "
        f"results: {outcome.results}."
    )


def combine(texts: Iterable[str]) -> Tally:
    """One tally from JSON Lines results: every `asset` record, an asset seen twice counted once (the last)."""
    import json

    last: dict[str, tuple[int, dict[str, int]]] = {}
    for text in texts:
        for line in text.splitlines():
            try:
                record = json.loads(line)
            except (ValueError, RecursionError):
                continue  # the last line of a killed run may be cut; --resume runs that asset again
            if isinstance(record, dict) and record.get("type") == "asset" and isinstance(record.get("asset"), str):
                given = record.get("counts")
                try:
                    counts = {str(k): int(v) for k, v in given.items()} if isinstance(given, dict) else {}
                    last[record["asset"]] = (int(record.get("exit_code", 1)), counts)
                except (TypeError, ValueError):
                    continue  # not a record this tool wrote
    tally = Tally()
    for asset, (code, counts) in last.items():
        tally.add(asset, code, counts)
    return tally


def read_results(sources: Iterable[str], clients: Any) -> Iterator[str]:
    """The text of each results file: local paths, s3:// keys, and every .jsonl under an s3:// prefix."""
    from gather_job import aws
    from gather_job.storage import s3uri

    for source in sources:
        uri = s3uri.location(source, "RESULTS")
        if uri is None:
            try:
                yield Path(source).read_text(encoding="utf-8", errors="replace")
            except OSError as exc:
                raise UsageError(f"Results file {source} cannot be read: {exc.strerror or exc}.") from exc
            continue
        client = clients.s3()
        keys = [uri.prefix.rstrip("/")]
        if source.endswith("/"):
            with aws.translated("listing", source, permission=f"s3:ListBucket on {uri.bucket}"):
                pages = client.get_paginator("list_objects_v2").paginate(Bucket=uri.bucket, Prefix=uri.prefix)
                keys = sorted(
                    str(i["Key"]) for p in pages for i in p.get("Contents", []) if i["Key"].endswith(".jsonl")
                )
            if not keys:
                raise UsageError(f"No .jsonl results under {source}.", hint="Give the prefix the shards wrote to.")
        for key in keys:
            with aws.translated("reading", f"{s3uri.SCHEME}{uri.bucket}/{key}", permission="s3:GetObject"):
                body = client.get_object(Bucket=uri.bucket, Key=key)["Body"].read()
            yield body.decode("utf-8", errors="replace")
