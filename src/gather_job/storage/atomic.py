"""Writing a local file so that readers see the old bytes or the new ones, never a half.

The bytes go to a temporary file of a unique name beside the target (same folder, so the rename is
atomic on one filesystem), are flushed to disk, and the temporary file is renamed over the target;
the folder is synced so the rename itself survives a crash. Temporary names start with `.` and
contain TEMP_MARK, so a later run can recognise (and remove) what a killed run left behind.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

TEMP_MARK = ".gather-tmp-"


def temporary_name(name: str) -> str:
    return f".{name}{TEMP_MARK}{os.getpid()}-{os.urandom(6).hex()}"


def write_synced(path: Path, data: bytes) -> None:
    """Create `path` (it must not exist) with `data`, flushed to disk."""
    with path.open("xb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace(path: Path, data: bytes, *, before_rename: Callable[[], None] | None = None) -> None:
    """Atomically make `path` hold `data`; `before_rename` runs between the write and the rename."""
    temporary = path.with_name(temporary_name(path.name))
    try:
        write_synced(temporary, data)
        if before_rename is not None:
            before_rename()
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
    fsync_dir(path.parent)
