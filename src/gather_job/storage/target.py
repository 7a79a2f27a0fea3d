"""The `Target` a run writes to, the `if_exists` decision, and writing to a local folder atomically.

A folder the job owns (absent, or holding only a previous gather's files) is replaced as a whole:
the new files are written into a temporary folder beside it, which is then swapped in with one
atomic `renameat2(RENAME_EXCHANGE)` (or two renames where the kernel lacks it). A folder shared
with other files (e.g. metadata_dir == output_dir) gets each file by temp-file + `os.replace`,
gather_report.json last, and never has an input file rewritten.
"""

from __future__ import annotations

import functools
import os
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from gather_job.errors import OutputRefused, UsageError
from gather_job.schema import CORE_FILES, file_name
from gather_job.storage import atomic, s3uri

if TYPE_CHECKING:
    from gather_job.aws import Clients
    from gather_job.settings.model import JobSettings

REPORT_NAME = "gather_report.json"
OUR_FILES = frozenset({file_name(kind) for kind in CORE_FILES} | {REPORT_NAME})
STALE_TEMP_S = 3600.0
Hook = Callable[[str], None]


def open_target(settings: JobSettings, clients: Clients, hook: Hook | None = None) -> Target:
    """The output: a local folder, or an S3 prefix (boto3 is imported only then)."""
    if not settings.output_dir:
        raise UsageError(
            "output_dir is not set in the settings.",
            hint="Add output_dir (the folder the gathered files go to) to the settings, or pass --output-dir.",
        )
    uri = s3uri.location(settings.output_dir, "output_dir")
    if uri is None:
        return LocalTarget(Path(settings.output_dir), settings.if_exists, hook)
    from gather_job.storage.s3_target import S3Target

    return S3Target(uri, clients.s3(), settings.if_exists, hook=hook)


def holds_asset(target: Path) -> bool:
    """A folder holds an asset when a previous gather completed there (its report is the marker)."""
    return (target / REPORT_NAME).is_file()


def proceed(holds: bool, policy: str, label: str) -> bool:
    """The `if_exists` decision, for any target: True to write, False to skip; `error` refuses (exit 5)."""
    if not holds:
        return True
    if policy == "error":
        raise OutputRefused(
            f"output_dir '{label}' already holds a gathered asset ({REPORT_NAME} is there) and if_exists is 'error'.",
            hint="Use another output_dir, remove the old result, or set if_exists to overwrite or skip.",
        )
    return policy != "skip"


class Target(Protocol):
    """Where a run's files go: a local folder (`LocalTarget`) or an S3 prefix (`s3_output.S3Target`)."""

    @property
    def label(self) -> str: ...

    def prepare(self) -> bool:
        """Apply `if_exists` before the gather: False means skip; raises OutputRefused for `error`."""
        ...

    def write(self, files: Mapping[str, bytes], report: bytes, *, inputs: frozenset[str]) -> list[str]:
        """Write the files, the report last; never rewrite an input (`Folder.location` strings)."""
        ...


@dataclass
class LocalTarget:
    path: Path
    policy: str
    hook: Hook | None = None

    @property
    def label(self) -> str:
        return str(self.path)

    def prepare(self) -> bool:
        if self.path.exists() and not self.path.is_dir():
            raise UsageError(f"output_dir '{self.path}' is a file, not a folder.", hint="Point output_dir at a folder.")
        return proceed(holds_asset(self.path), self.policy, str(self.path))

    def write(self, files: Mapping[str, bytes], report: bytes, *, inputs: frozenset[str]) -> list[str]:
        return write_local(self.path, files, report, inputs=frozenset(Path(p) for p in inputs), hook=self.hook)


def _owned(target: Path, inputs: frozenset[Path]) -> bool:
    """True when everything in `target` is a previous gather's output (so it may be replaced whole)."""
    if not target.exists():
        return True
    return all(
        entry.name in OUR_FILES and entry.is_file() and entry.resolve() not in inputs for entry in target.iterdir()
    )


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2); False when the platform cannot."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return bool(result == 0)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _clean_stale(parent: Path, prefix: str) -> None:
    """Remove staging folders of killed runs: their pid is gone (or they are over an hour old)."""
    now = time.time()
    for entry in parent.glob(f"{prefix}*"):
        pid = entry.name.removeprefix(prefix).split("-")[0]
        try:
            dead = pid.isdigit() and not _alive(int(pid))
            if dead or now - entry.stat().st_mtime > STALE_TEMP_S:
                shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            continue


def write_local(
    target: Path,
    files: Mapping[str, bytes],
    report: bytes,
    *,
    inputs: frozenset[Path] = frozenset(),
    hook: Hook | None = None,
) -> list[str]:
    """Write `files` and the report into `target`; return the names actually written."""
    pause = hook or (lambda step: None)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if _owned(target, inputs):
            return _swap_in(target, files, report, pause)
        return _replace_each(target, files, report, inputs, pause)
    except OSError as exc:
        raise UsageError(
            f"Cannot write to output_dir '{target}': {exc.strerror or exc}.",
            hint="Check that the folder is writable and the disk is not full.",
        ) from exc


def _swap_in(target: Path, files: Mapping[str, bytes], report: bytes, pause: Hook) -> list[str]:
    prefix = f".{target.name}.gather-tmp-"
    _clean_stale(target.parent, prefix)
    staging = target.parent / f"{prefix}{os.getpid()}-{os.urandom(6).hex()}"
    staging.mkdir()
    try:
        for name, data in files.items():
            atomic.write_synced(staging / name, data)
        atomic.write_synced(staging / REPORT_NAME, report)
        atomic.fsync_dir(staging)
        pause("swap")
        if not target.exists():
            staging.rename(target)
        elif _exchange(staging, target):
            shutil.rmtree(staging)  # now the previous result
        else:
            old = target.parent / f"{prefix}{os.getpid()}-old-{os.urandom(6).hex()}"
            target.rename(old)
            staging.rename(target)
            shutil.rmtree(old)
        atomic.fsync_dir(target.parent)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return [*files, REPORT_NAME]


def _replace_each(
    target: Path, files: Mapping[str, bytes], report: bytes, inputs: frozenset[Path], pause: Hook
) -> list[str]:
    written: list[str] = []
    for leftover in target.glob(".*.gather-tmp-*"):  # from a run killed between write and rename
        leftover.unlink(missing_ok=True)
    stale = target / REPORT_NAME
    if stale.exists():
        pause("unlink-report")
        stale.unlink()  # until the new report lands, the folder is visibly incomplete
    for name, data in [*files.items(), (REPORT_NAME, report)]:
        final = target / name
        if final.resolve() in inputs:
            continue  # an input file of this very folder: never rewritten
        atomic.replace(final, data, before_rename=functools.partial(pause, f"replace:{name}"))
        written.append(name)
    atomic.fsync_dir(target)
    return written
