"""`python tests/support/launcher.py PAUSE ARGS...`: the CLI, pausing before each write step.

For the crash-safety and race tests: before every write step the job announces it on stderr
("gather-job: test pause before STEP") and then waits. PAUSE is either a number of seconds to sleep,
or `gate:DIR`: before its i-th step (from 0) the job waits until DIR/go-i or DIR/go exists, so a
test decides exactly when each step may happen (`Gate` creates those files). Nothing in gather-job
itself reads a test variable; the pause is injected through `main`'s `write_hook`, the seam the
library offers.
"""

from __future__ import annotations

import itertools
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from gather_job.cli import main

GATE_LIMIT_S = 300.0  # a gate never opened (a broken test) lets the job go on rather than hang the suite


def pause_for(seconds: float) -> Callable[[str], None]:
    def pause(step: str) -> None:
        sys.stderr.write(f"gather-job: test pause before {step}\n")
        sys.stderr.flush()
        time.sleep(seconds)

    return pause


def gated(folder: Path) -> Callable[[str], None]:
    counter = itertools.count()

    def pause(step: str) -> None:
        index = next(counter)
        sys.stderr.write(f"gather-job: test pause before {step}\n")
        sys.stderr.flush()
        until = time.monotonic() + GATE_LIMIT_S
        while not ((folder / f"go-{index}").exists() or (folder / "go").exists()) and time.monotonic() < until:
            time.sleep(0.01)

    return pause


class Gate:
    """The test's side of `gate:DIR`: open one step, or all of them."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def pause(self) -> str:
        return f"gate:{self.folder}"

    def step(self, index: int) -> None:
        (self.folder / f"go-{index}").touch()

    def open(self) -> None:
        (self.folder / "go").touch()


def hook(pause: str) -> Callable[[str], None]:
    return gated(Path(pause.removeprefix("gate:"))) if pause.startswith("gate:") else pause_for(float(pause))


def command(pause: float | str, *args: str) -> list[str]:
    """The argv that runs the CLI with ARGS under this launcher."""
    return [sys.executable, str(Path(__file__).resolve()), str(pause), *args]


if __name__ == "__main__":
    sys.exit(main(sys.argv[2:], environ=os.environ, write_hook=hook(sys.argv[1])))
