"""stderr as the pipeline reads it: plain text, or (`--log-format json`) one JSON object per line.

With JSON logs every stderr line must parse as JSON, not only the log records: the summary, the
progress lines, error paragraphs, tracebacks and the verdict all go through `JsonLines`, which
turns each complete line written to it into `{"timestamp", "level", "logger", "message"}`.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import IO, cast


class JsonLines(io.TextIOBase):
    """A text stream that writes each line it is given as one JSON object to `target`."""

    def __init__(self, target: IO[str], logger: str = "gather_job") -> None:
        super().__init__()
        self.target = target
        self.logger = logger
        self._pending = ""

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False  # no spinner redrawn in place: plain progress lines

    def write(self, text: str) -> int:
        self._pending += text.replace("\r", "\n")
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            if line.strip():
                self._emit(line)
        return len(text)

    def _emit(self, line: str) -> None:
        level = "ERROR" if "error" in line[:40].lower() or line.startswith("Traceback") else "INFO"
        record = {
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "level": level,
            "logger": self.logger,
            "message": line.rstrip(),
        }
        self.target.write(json.dumps(record, ensure_ascii=False) + "\n")

    def flush(self) -> None:
        if self._pending.strip():
            self._emit(self._pending)
        self._pending = ""
        self.target.flush()


def stderr_for(log_format: str, stream: IO[str]) -> IO[str]:
    if log_format == "json":
        return cast("IO[str]", JsonLines(stream))  # a TextIOBase: every write goes through its lines
    return stream
