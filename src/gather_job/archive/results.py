"""What a many-asset `check` reports: JSON Lines per asset, a tally, progress, a table of failures."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from gather_job.archive.sources import read_results as read_results
from gather_job.errors import ExitCode, UsageError

ASSET_CODES = frozenset(int(code) for code in ExitCode)
SEVERITIES = ("error", "warning", "info")
MOST_FINDINGS = 2**53  # the largest count any JSON reader holds exactly; sums of such never reach str()'s limit
Record = tuple[str, int, dict[str, int]]


def _whole(value: object) -> bool:
    return type(value) is int and 0 <= value <= MOST_FINDINGS  # `type(...) is int`: true and false are not counts


def asset_record(record: object) -> Record | None:
    """(asset, exit_code, counts) of an `asset` record as this tool writes it; None for anything else.

    Results files are edited, concatenated and passed around: an exit code of 1e400 (a float that
    int() cannot hold), 256 (an exit status no shell sees) or -1 must not decide a summary's exit.
    """
    if not isinstance(record, dict) or record.get("type") != "asset":
        return None
    asset, code, counts = record.get("asset"), record.get("exit_code"), record.get("counts", {})
    if not isinstance(asset, str) or not asset or type(code) is not int or code not in ASSET_CODES:
        return None
    if not isinstance(counts, dict) or not all(k in SEVERITIES and _whole(v) for k, v in counts.items()):
        return None
    return asset, code, dict(counts)


def asset_records(text: str) -> Iterator[Record | None]:
    """Each `asset` record of JSON Lines results, in order; None for each line skipped.

    Skipped: a line that is not JSON (a killed run's cut last line: --resume runs that asset again)
    or not a record this tool writes. `finding` and `summary` lines and blank lines are passed over.
    """
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            yield None
            continue
        if isinstance(record, dict) and record.get("type") in ("finding", "summary"):
            continue
        yield asset_record(record)


@dataclass
class Tally:
    """What the run saw so far: per exit code how many assets, and the assets that were not clean."""

    assets: int = 0
    by_code: dict[int, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=lambda: {"error": 0, "warning": 0, "info": 0})
    failed: list[tuple[str, int, dict[str, int]]] = field(default_factory=list)
    skipped_lines: int = 0  # results lines `summary` could not use (see `asset_records`)

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
            lines.append(f"{code:>4}  {counts.get('error', 0):>6}  {counts.get('warning', 0):>8}  {printable(asset)}")
        if len(tally.failed) > limit:
            lines.append(f"... and {len(tally.failed) - limit} more (the JSON Lines results list them all)")
    return "\n".join(lines)


_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def printable(name: str) -> str:
    """An asset's name as a terminal may show it: a prefix named `bad\\x1b[31m/` must not colour the table."""
    return _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape", "backslashreplace").decode("ascii"), name)


def verdict(outcome: BulkOutcome) -> str:
    """The last line on stderr; after a note when some results lines were not records this tool writes."""
    tally = outcome.tally
    not_read = sum(v for k, v in tally.by_code.items() if k not in (0, 3))
    note = (
        f"gather-job: note: {tally.skipped_lines} line(s) of the results skipped: cut short (a killed run's "
        "last line) or not a record gather-job writes (an `asset` record's exit_code is one of gather-job's exit "
        "codes, its counts whole numbers of 0 or more).\n"
        if tally.skipped_lines
        else ""
    )
    return note + (
        f"gather-job: verdict: {tally.assets} assets checked: {tally.by_code.get(0, 0)} clean, "
        f"{tally.by_code.get(3, 0)} with errors, {not_read} not read (exit {tally.exit_code}); "
        f"results: {outcome.results}."
    )


def combine(texts: Iterable[str]) -> Tally:
    """One tally from JSON Lines results: every `asset` record, an asset seen twice counted once (the last).

    Lines that are not records this tool writes are skipped and counted (`Tally.skipped_lines`), so
    the verdict can say so rather than let them change the totals or the exit code.
    """
    last: dict[str, tuple[int, dict[str, int]]] = {}
    skipped = 0
    for text in texts:
        for found in asset_records(text):
            if found is None:
                skipped += 1
            else:
                last[found[0]] = found[1:]
    tally = Tally(skipped_lines=skipped)
    for asset, (code, counts) in last.items():
        tally.add(asset, code, counts)
    return tally
