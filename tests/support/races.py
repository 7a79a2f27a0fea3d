"""Running jobs side by side, deterministically: subprocesses whose stderr is read as it comes, and
the kernel's view of who waits on a folder's lock (/proc/locks), so a test knows a second run is
blocked on the lock rather than hoping a sleep was long enough."""

from __future__ import annotations

import logging
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

PROC_LOCKS = Path("/proc/locks")


def wait_until(predicate: Callable[[], bool], timeout: float = 60.0, what: str = "a condition") -> None:
    until = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > until:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)


def waits_on_a_lock(pid: int) -> bool:
    """Whether process `pid` is blocked waiting for a flock (a "->" line of /proc/locks)."""
    try:
        lines = PROC_LOCKS.read_text().splitlines()
    except OSError:
        return False
    return any("->" in line and "FLOCK" in line and f" {pid} " in f" {line} " for line in lines)


class Job:
    """A subprocess whose stderr lines are collected by a thread, so waiting for a line never blocks forever."""

    def __init__(self, argv: Sequence[str], *, cwd: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            list(argv), cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        with self.proc.stderr:
            for line in self.proc.stderr:
                self._queue.put(line)
        self._queue.put(None)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_for(self, text: str, timeout: float = 120.0) -> str:
        """The first stderr line (from now on) containing `text`; fails if the job ends or time runs out."""
        until = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.01, until - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line with {text!r} within {timeout:g} s: {''.join(self.lines)}") from None
            if line is None:
                self._queue.put(None)
                raise AssertionError(f"the job ended before a line with {text!r}: {''.join(self.lines)}")
            self.lines.append(line)
            if text in line:
                return line

    def finish(self, timeout: float = 180.0) -> tuple[int, str]:
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        while not self._queue.empty():
            line = self._queue.get()
            if line is not None:
                self.lines.append(line)
        return code, "".join(self.lines)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.finish(timeout=30)


def environment(**extra: str) -> dict[str, str]:
    """A clean environment for the jobs: PATH, and what the test adds (AWS_* for a moto server)."""
    return {"PATH": os.environ["PATH"], **extra}


class LogSignal(logging.Handler):
    """An Event set when a record containing `text` is logged (e.g. a run starting to wait for a claim)."""

    def __init__(self, logger: str, text: str) -> None:
        super().__init__(logging.DEBUG)
        self.logger = logging.getLogger(logger)
        self.text = text
        self.seen = threading.Event()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        self.messages.append(message)
        if self.text in message:
            self.seen.set()

    def __enter__(self) -> LogSignal:
        self.logger.addHandler(self)
        self._level = self.logger.level
        self.logger.setLevel(logging.DEBUG)
        return self

    def __exit__(self, *exc: object) -> None:
        self.logger.removeHandler(self)
        self.logger.setLevel(self._level)
