"""Writing a local file so that readers see the old bytes or the new ones, never a half.

The bytes go to a temporary file of a unique name beside the target (same folder, so the rename is
atomic on one filesystem), are flushed to disk, and the temporary file is renamed over the target;
the folder is synced so the rename itself survives a crash. Temporary names start with `.` and
contain TEMP_MARK, so a later run can recognise (and remove) what a killed run left behind.

Which temporaries are dead is decided by a lock, never by the PID in their name (PIDs are reused,
and mean nothing on another host or in another container): gather-job creates a temporary only
while it holds `locked()` on the temporary's folder (for the kept originals, on the output folder
above it), so whoever holds that lock and finds one knows its writer is gone (the kernel drops a
dead process's lock).
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

TEMP_MARK = ".gather-tmp-"
_TEMPORARY = re.compile(rf"^\..+{re.escape(TEMP_MARK)}\d+-[0-9a-f]{{12}}$")


def temporary_name(name: str) -> str:
    return f".{name}{TEMP_MARK}{os.getpid()}-{os.urandom(6).hex()}"


def is_temporary(name: str) -> bool:
    """Whether `name` is one of ours (`temporary_name`'s form exactly, so no other file is taken for one)."""
    return bool(_TEMPORARY.match(name))


@contextmanager
def locked(folder: Path, *, required: bool = True) -> Iterator[None]:
    """An exclusive `flock` on the folder itself (no lock file is left in it); concurrent writers take turns.

    Closing the descriptor releases it, and so does the death of the process: a lock is never stale.
    Not `required` (a report copy in someone else's folder): a folder that cannot be locked (not
    readable, or a file system without flock) is written without it.
    """
    fd: int | None = None
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError:
        if fd is not None:
            os.close(fd)
            fd = None
        if required:
            raise
    try:
        yield
    finally:
        if fd is not None:
            os.close(fd)


def remove_dead_temporaries(folder: Path) -> list[str]:
    """Remove what killed writers left in `folder`; only under the lock its writers hold (see above)."""
    removed: list[str] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if is_temporary(entry.name) and entry.is_file(follow_symlinks=False):
                Path(entry.path).unlink(missing_ok=True)
                removed.append(entry.name)
    return removed


def write_synced(path: Path, data: bytes | Iterable[bytes]) -> None:
    """Create `path` (it must not exist) with `data` (bytes, or pieces written as they come), flushed to disk."""
    with path.open("xb") as handle:
        if isinstance(data, bytes):
            handle.write(data)
        else:
            for piece in data:
                handle.write(piece)
        handle.flush()
        os.fsync(handle.fileno())


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace(path: Path, data: bytes | Iterable[bytes], *, before_rename: Callable[[], None] | None = None) -> None:
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
