"""Where a many-asset check's JSON Lines go while it runs, and the progress it shows on stderr.

Kept apart from `results` (what the records say): this is the part that holds files open, and the
part an interrupted run must close in order (its last records flushed, an `s3://` copy uploaded).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from gather_job.errors import UsageError


class Sink:
    """Where the JSON Lines go: standard output, a local file (appended to on --resume), or an S3 key."""

    def __init__(self, stream: IO[str], label: str, upload: Callable[[], None] | None = None) -> None:
        self.stream, self.label, self._upload = stream, label, upload

    @property
    def local(self) -> str:
        """The local file the results are in (an `s3://` output's copy, kept when its upload failed)."""
        return str(getattr(self.stream, "name", self.label))

    @classmethod
    def discard(cls) -> Sink:
        import io

        return cls(io.StringIO(), "not kept (use --output)")

    @classmethod
    def open(cls, output: str | None, *, append: bool, clients: Any) -> Sink:
        """The sink `--output` names; an `s3://` one checked (its bucket exists) before any asset is.

        `append` (resuming into the same file or key) keeps what is there and adds a line end after
        a killed run's cut last line, so the first new record is not glued to it and lost.
        """
        import sys

        from gather_job.archive import sources
        from gather_job.storage import s3uri

        if not output:
            return cls(sys.stdout, "standard output")
        if s3uri.location(output, "--output") is not None:
            local, upload = sources.staged(output, append=append, clients=clients)
            return cls(local, output, upload)
        try:
            cut = append and Path(output).is_file() and _ends_cut(Path(output))
            stream = Path(output).open("a" if append else "w", encoding="utf-8")  # noqa: SIM115 (closed by close())
        except OSError as exc:
            raise UsageError(f"--output {output} cannot be written: {exc.strerror or exc}.") from exc
        if cut:
            stream.write("\n")
        return cls(stream, output)

    def write(self, lines: list[str]) -> None:
        self.stream.write("".join(line + "\n" for line in lines))
        self.stream.flush()

    def close(self) -> None:
        """Close the stream; an S3 sink uploads its local copy, deleted only once the upload succeeded."""
        import sys

        if self.stream is sys.stdout:
            return
        uploaded = False
        try:
            if self._upload is not None:
                self._upload()
                uploaded = True
        finally:
            self.stream.close()  # (a discarded stream is a StringIO, which has no name)
            if uploaded:
                Path(getattr(self.stream, "name", "")).unlink(missing_ok=True)


HEAD_BYTES = 1 << 20  # of an `s3://` output, read to see whether it holds results (not the whole object)


def tell_replacing(output: str, clients: Any, err: IO[str]) -> None:
    """Say once, before the run, that `--output` holds an earlier run's results this run replaces.

    Replacing is what a run without `--resume` does (README), but a rerun of a long run's command
    without it loses the records silently otherwise. Said only when the output holds `asset` records;
    on S3 the first MiB of the object is read to see that, not all of it.
    """
    from gather_job.archive import sources
    from gather_job.storage import s3uri

    if s3uri.location(output, "--output") is None:
        path = Path(output)
        try:
            if not path.is_file():
                return
            lines, held = 0, False
            with path.open(encoding="utf-8", errors="replace") as stream:
                for line in stream:  # parsed until the first `asset` record: a few findings before it at most
                    lines += 1
                    held = held or ('"asset"' in line and _is_asset_record(line))
        except OSError:
            return  # opening it for writing says what is wrong
        size = f"{lines} line" + ("s" if lines != 1 else "")
    else:
        bucket, key = sources.object_key(output, "--output")
        try:
            response = clients.s3().get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{HEAD_BYTES - 1}")
            head = response["Body"].read().decode("utf-8", errors="replace")
        except Exception:  # absent, or not readable: nothing to say (the upload at the end says what fails)
            return
        held = any(_is_asset_record(line) for line in head.splitlines())  # a cut last line is no record
        size = _size(response)
    if held:
        shown = s3uri.shown_url(output) if s3uri.is_s3(output) else output
        err.write(
            f"gather-job: warning: replacing {shown} (an earlier run's results, {size}), as a run without --resume "
            f"does; to continue that run instead, give --resume {shown} with the same --output.\n"
        )
        err.flush()


def _is_asset_record(line: str) -> bool:
    import json

    from gather_job.archive.results import asset_record

    try:
        return asset_record(json.loads(line)) is not None
    except (ValueError, RecursionError):
        return False


def _size(response: Any) -> str:
    """An S3 object's size from a ranged GET (`Content-Range: bytes 0-N/TOTAL`), as the warning shows it."""
    total = str(response.get("ContentRange", "")).rpartition("/")[2]
    count = int(total) if total.isdigit() else int(response.get("ContentLength", 0))
    return f"{count:,} bytes"


def _ends_cut(path: Path) -> bool:
    """Whether a results file ends without a line end: a run killed mid-line."""
    with path.open("rb") as stream:
        if stream.seek(0, 2) == 0:
            return False
        stream.seek(-1, 2)
        return stream.read(1) != b"\n"


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
        noun = "asset" if self.total == 1 else "assets"
        text = f"{self.done}/{self.total} {noun} checked, {rate:,.0f}/min, ETA {_duration(left)}"
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
