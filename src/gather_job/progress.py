"""Telling a person what is taking long: a step that lasts over a second is shown on stderr.

On a terminal a spinner line is redrawn in place; otherwise (pipeline logs) one plain line when the
step passes the threshold and one when it ends. Quick steps print nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

FRAMES = "|/-\\"


class Progress:
    """Shows steps that outlast `threshold` seconds; `Progress(None)` shows nothing."""

    def __init__(self, stream: IO[str] | None, *, threshold: float = 1.0, tick: float = 0.1) -> None:
        self.stream = stream
        self.threshold = threshold
        self.tick = tick
        self.tty = bool(stream is not None and hasattr(stream, "isatty") and stream.isatty())
        self._lock = threading.Lock()
        self._step: tuple[str, float] | None = None
        self._shown = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _write(self, text: str) -> None:
        assert self.stream is not None
        self.stream.write(text)
        self.stream.flush()

    def _watch(self) -> None:
        frame = 0
        while not self._stop.wait(self.tick):
            with self._lock:
                if self._step is None:
                    continue
                text, started = self._step
                elapsed = time.monotonic() - started
                if elapsed < self.threshold:
                    continue
                if self.tty:
                    self._write(f"\r{FRAMES[frame % len(FRAMES)]} {text} ({elapsed:.0f} s)\033[K")
                    frame += 1
                elif not self._shown:
                    self._write(f"gather-job: {text} ...\n")
                self._shown = True

    @contextmanager
    def step(self, text: str) -> Iterator[None]:
        if self.stream is None:
            yield
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="gather-progress", daemon=True)
            self._thread.start()
        with self._lock:
            self._step, self._shown = (text, time.monotonic()), False
        try:
            yield
        finally:
            with self._lock:
                text, started = self._step or (text, time.monotonic())
                if self._shown:
                    took = time.monotonic() - started
                    self._write(
                        f"\r{text}: done in {took:.1f} s\033[K\n" if self.tty else f"gather-job: {text}: {took:.1f} s\n"
                    )
                self._step, self._shown = None, False

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1)
