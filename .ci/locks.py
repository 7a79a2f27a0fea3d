#!/usr/bin/env python3
"""The two locks: requirements.lock (what the wheel needs) and requirements-test.lock (what CI adds).

    python3.11 .ci/locks.py            # regenerate both from pyproject.toml's ranges (newest releases)

Both are computed by pip's own resolver (`pip install --dry-run --ignore-installed --report`) for the
running Python, from the requirements written in pyproject.toml: the runtime lock from
[project].dependencies and the `mappers` extra (the container installs both), the test lock from those
plus the `test` extra plus the installers CI pins
(pip, setuptools, wheel), minus what the runtime lock already holds. tests/test_locks.py resolves the
same requirements *with* the locks as constraints and fails when the result differs from them: a
dependency added without regenerating, or a pin nothing needs any more.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_LOCK = ROOT / "requirements.lock"
TEST_LOCK = ROOT / "requirements-test.lock"
INSTALLERS = ("pip", "setuptools", "wheel")
HEADERS = {
    RUNTIME_LOCK.name: (
        "# Runtime dependencies of gather-job and its `mappers` extra, pinned: the container installs the wheel\n"
        "# (with the extra) with these as\n"
        "# constraints (Dockerfile), CI installs with them, and tests/test_locks.py checks that they are\n"
        "# complete and current. Regenerate after changing [project] dependencies: python3.11 .ci/locks.py\n"
    ),
    TEST_LOCK.name: (
        "# What CI installs beyond requirements.lock: the closure of the `test` extra and the installers\n"
        "# (pip, setuptools, wheel), pinned, so a new release of a test tool cannot turn main red.\n"
        "# .ci/run uses both locks as constraints; tests/test_locks.py checks they are complete and current.\n"
        "# Regenerate after changing the test extra: python3.11 .ci/locks.py\n"
    ),
}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements() -> tuple[list[str], list[str]]:
    """(runtime requirements with the `mappers` extra, as the container installs them; the `test` extra)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    return [*project["dependencies"], *extras["mappers"]], list(extras["test"])


def pins(path: Path) -> dict[str, str]:
    """A lock file's pins: canonical name -> version."""
    found: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, version = line.partition("==")
            found[canonical(name.strip())] = version.strip()
    return found


def resolve(wanted: list[str], constraints: Sequence[Path] = ()) -> dict[str, tuple[str, str]]:
    """What pip would install for `wanted` into an empty environment: canonical name -> (name, version)."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--dry-run", "--ignore-installed"]
        command += ["--disable-pip-version-check", "--report", str(report)]
        for path in constraints:
            command += ["--constraint", str(path)]
        done = subprocess.run([*command, *wanted], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"pip could not resolve {wanted}:\n{done.stderr}")
        items = json.loads(report.read_text())["install"]
    return {canonical(i["metadata"]["name"]): (i["metadata"]["name"], i["metadata"]["version"]) for i in items}


def write(path: Path, resolved: dict[str, tuple[str, str]]) -> None:
    lines = [f"{name}=={version}\n" for _, (name, version) in sorted(resolved.items())]
    path.write_text(HEADERS[path.name] + "".join(lines))
    print(f"{path.name}: {len(lines)} pins")


def main() -> int:
    runtime, test = requirements()
    resolved_runtime = resolve(runtime)
    resolved_all = resolve([*runtime, *test, *INSTALLERS])
    clash = {k: v for k, v in resolved_all.items() if k in resolved_runtime and v != resolved_runtime[k]}
    if clash:
        print(f"the test extra needs other versions of runtime packages: {clash}", file=sys.stderr)
        return 1
    write(RUNTIME_LOCK, resolved_runtime)
    write(TEST_LOCK, {k: v for k, v in resolved_all.items() if k not in resolved_runtime})
    return 0


if __name__ == "__main__":
    sys.exit(main())
