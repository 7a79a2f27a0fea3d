"""The standard streams as the command uses them: stderr as the pipeline reads it, and closed streams.

With JSON logs (`--log-format json`) every stderr line must parse as JSON, not only the log records:
the summary, the progress lines, error paragraphs, tracebacks and the verdict all go through
`JsonLines`, which turns each paragraph written to it into one `{"timestamp", "level", "logger",
"message"}` record, so a consumer never sees an error cut in two records of different levels.

A process started with fd 0, 1 or 2 closed (`<&-`, `>&-`, `2>&-`, a supervisor that closes them) has
sys.stdin, sys.stdout or sys.stderr set to None. `standard_streams` makes that an ordinary state:
closed output goes to a null sink (nobody reads it; the work and its exit code stay what they are),
and reading a closed standard input (`--settings-file -`) is a usage error (exit 2), not a bug.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TextIO, cast

from gather_job.errors import UsageError

# a paragraph's lines that show a finding of that severity (render.render_finding's labels)
_FINDING = re.compile(r"^\s+(ERROR|WARNING)\s")


class JsonLines(io.TextIOBase):
    """A text stream that writes each paragraph it is given as one JSON object to `target`.

    A paragraph is the complete lines of one write, up to a blank line: an error paragraph wrapped
    over several lines, a file's findings; a traceback written in one piece (`cli` does) is one record
    whole. A write that ends without a newline waits for the rest of its line.
    """

    def __init__(self, target: IO[str], logger: str = "gather_job") -> None:
        super().__init__()
        self.target = target
        self.logger = logger
        self._pending = ""
        self._lock = threading.Lock()  # progress lines come from a thread of their own

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False  # no spinner redrawn in place: plain progress lines

    def write(self, text: str) -> int:
        with self._lock:
            self._pending += text.replace("\r", "\n")
            complete, newline, self._pending = self._pending.rpartition("\n")
            if not newline:
                return len(text)
            # a traceback is one record, however many exceptions its chain holds (blank lines between them)
            whole = complete.lstrip().startswith("Traceback (most recent call last)")
            for paragraph in [complete] if whole else re.split(r"\n[ \t]*\n", complete):
                if paragraph.strip():
                    self._emit(paragraph)
        return len(text)

    def _emit(self, paragraph: str) -> None:
        lines = [line.rstrip() for line in paragraph.strip("\n").split("\n")]
        record = {
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "level": _level(lines),
            "logger": self.logger,
            "message": "\n".join(lines),
        }
        self.target.write(json.dumps(record, ensure_ascii=False) + "\n")

    def flush(self) -> None:
        with self._lock:
            if self._pending.strip():
                self._emit(self._pending)
            self._pending = ""
        self.target.flush()


def _level(lines: list[str]) -> str:
    """ERROR for an error paragraph, a traceback or findings with an error; WARNING for warnings (and a
    paragraph that says "gather-job: warning:"); else INFO.

    A verdict's level is its exit code's ("unusable settings or input (exit 2)" is an error). Elsewhere
    "error" early in the first line, or a count of errors in it, says it, except "0 errors" and "no
    error": a consumer alerting on ERROR must not fire on a clean check.
    """
    if lines[0].startswith("gather-job: verdict:"):
        found = re.search(r"\(exit (\d+)\)", lines[0])
        return "ERROR" if found is not None and found.group(1) not in ("0", "141") else "INFO"  # 141: reader left
    if lines[0].startswith("gather-job: warning:"):
        return "WARNING"
    first = re.sub(r"\b(?:0 errors|no error)\b", "", lines[0][:40])
    shown = {match.group(1) for line in lines[1:] if (match := _FINDING.match(line))}
    counted = re.search(r"\b[1-9]\d* errors?\b", lines[0]) is not None  # a headline "(2 errors, 0 warnings, ...)"
    if "error" in first.lower() or first.startswith("Traceback") or counted or "ERROR" in shown:
        return "ERROR"
    return "WARNING" if "WARNING" in shown else "INFO"


def stderr_for(log_format: str, stream: IO[str]) -> IO[str]:
    """stderr as the commands write to it: JSON lines or text, and never a failure once its reader left."""
    safe = cast("IO[str]", ReaderSafe(stream))
    if log_format == "json":
        return cast("IO[str]", JsonLines(safe))  # a TextIOBase: every write goes through its paragraphs
    return safe


class ReaderSafe(io.TextIOBase):
    """A stream whose reader may leave (`check --each ... 2>&1 | head`): from then on writes are dropped.

    The run goes on and its results (a file, an S3 object) are complete; a progress line that cannot be
    shown must not end it with a traceback (exit 1) and a results file cut short. The descriptor is
    pointed at /dev/null, so what is still buffered cannot fail again at exit.
    """

    def __init__(self, stream: IO[str]) -> None:
        super().__init__()
        self.stream, self.gone = stream, False

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return not self.gone and bool(getattr(self.stream, "isatty", lambda: False)())

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                self.stream.write(text)
            except BrokenPipeError:
                self._leave()
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self.stream.flush()
            except BrokenPipeError:
                self._leave()

    def _leave(self) -> None:
        self.gone = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, self.stream.fileno())
            finally:
                os.close(devnull)
        except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
            pass  # no descriptor (a test's StringIO)


class ClosedInput(io.TextIOBase):
    """Standard input of a process started without one: reading it (a '-' argument) is exit 2, saying why.

    `what` and `option` name what '-' was to read and where ("the settings", "--settings-file -");
    `cli.main` sets them once the command line is parsed.
    """

    def __init__(self, what: str = "the input", option: str = "'-'") -> None:
        super().__init__()
        self.what = what
        self.option = option

    def readable(self) -> bool:
        return True

    def _closed(self) -> UsageError:
        return UsageError(
            f"standard input is closed, so {self.option} has nothing to read.",
            hint=f"Give {self.what} as a file, or pipe them in (... {self.option} < FILE).",
        )

    def read(self, size: int | None = -1) -> str:
        raise self._closed()

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        raise self._closed()


def _reopen_closed_descriptors() -> None:
    """Put /dev/null on fd 0, 1 or 2 when closed, so the next file opened cannot take its number.

    Otherwise the first file the job opens becomes "standard output": a report written to /dev/stdout,
    or the own-stream checks of `storage.paths`, would then mean that file.
    """
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


def _null_sink() -> TextIO:
    """A closed output's stand-in: what is written there is dropped, as nobody could read it."""
    return Path(os.devnull).open("w", encoding="utf-8")  # open as long as the process lives


def standard_streams() -> None:
    """Make closed standard streams usable: output to a null sink, input a `ClosedInput`.

    Called by `cli.main` before anything is read or written, so no command has to care.
    """
    closed = [name for name in ("stdin", "stdout", "stderr") if getattr(sys, name) is None]
    if closed:
        _reopen_closed_descriptors()
    if sys.stdout is None:
        sys.stdout = _null_sink()
    if sys.stderr is None:
        sys.stderr = _null_sink()
    if sys.stdin is None:
        sys.stdin = cast("IO[str]", ClosedInput())
