"""The locks CI installs with are complete and current, so only a commit can change what CI runs.

requirements.lock pins what the wheel needs (the container uses it alone), requirements-test.lock
what the test extra and the installers add. Both are resolved again here by pip, for this Python,
from pyproject.toml's requirements with the locks as constraints: a requirement added without
regenerating the locks (`python3.11 .ci/locks.py`) shows up unpinned, a pin nothing needs as stale.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _locks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ci_locks", ROOT / ".ci" / "locks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


locks = _locks()


def test_the_locks_are_well_formed_and_apart() -> None:
    runtime, test = locks.pins(locks.RUNTIME_LOCK), locks.pins(locks.TEST_LOCK)
    assert runtime and test
    assert not set(runtime) & set(test), "a package is pinned in both locks"
    for name, version in {**runtime, **test}.items():
        assert version and " " not in version, f"{name} is not pinned to one version"
    for tool in locks.INSTALLERS:
        assert tool in test, f"CI's installer {tool} is not pinned"


def _check(wanted: list[str], lock_files: list[Path]) -> None:
    pinned: dict[str, str] = {}
    for path in lock_files:
        pinned.update(locks.pins(path))
    resolved = locks.resolve(wanted, lock_files)
    unpinned = sorted(f"{name}=={version}" for key, (name, version) in resolved.items() if key not in pinned)
    assert not unpinned, f"not in {[p.name for p in lock_files]}: {unpinned}; regenerate with python3.11 .ci/locks.py"
    if sys.version_info[:2] == (3, 11):  # the locks are made for CI's and the container's Python
        stale = sorted(set(pinned) - set(resolved))
        assert not stale, f"pinned but needed by nothing: {stale}; regenerate with python3.11 .ci/locks.py"


@pytest.mark.slow
def test_the_runtime_lock_alone_pins_everything_the_wheel_needs() -> None:
    runtime, _ = locks.requirements()
    _check(runtime, [locks.RUNTIME_LOCK])


@pytest.mark.slow
def test_both_locks_pin_everything_ci_installs() -> None:
    runtime, test = locks.requirements()
    _check([*runtime, *test, *locks.INSTALLERS], [locks.RUNTIME_LOCK, locks.TEST_LOCK])
