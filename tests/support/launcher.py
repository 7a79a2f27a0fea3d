"""`python tests/support/launcher.py SECONDS ARGS...`: the CLI, pausing before each write step.

For the crash-safety and race tests: before every write step the job announces it on stderr
("gather-job: test pause before STEP") and sleeps SECONDS, so a test can kill or race it there.
Nothing in gather-job itself reads a test variable; the pause is injected through `main`'s
`write_hook`, the seam the library offers.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from gather_job.cli import main


def pause_for(seconds: float) -> Callable[[str], None]:
    def pause(step: str) -> None:
        sys.stderr.write(f"gather-job: test pause before {step}\n")
        sys.stderr.flush()
        time.sleep(seconds)

    return pause


def command(seconds: float, *args: str) -> list[str]:
    """The argv that runs the CLI with ARGS under this launcher."""
    return [sys.executable, str(Path(__file__).resolve()), str(seconds), *args]


if __name__ == "__main__":
    sys.exit(main(sys.argv[2:], environ=os.environ, write_hook=pause_for(float(sys.argv[1]))))
