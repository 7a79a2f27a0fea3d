"""Where a run may write, refused before any work, and writing a copy of the report (`report`, `--output`).

Inputs are never written (docs/design.md §14). `check_run` refuses, before anything is read or
written, settings whose writes could touch an input or replace a special file:

- output_dir must be a folder (or a path the job creates), never inside metadata_dir: it may *be*
  metadata_dir (the pipeline's staging folder, written into, the inputs kept under
  original_metadata/), but a sub-folder would become part of the input folder the next run reads;
  and metadata_dir may not lie where output_dir keeps the originals (they are replaced there).
- `report` (and `check --output`) must name a file outside the folder read and outside output_dir
  (where gather_report.json is always written: a copy there would travel with the asset, and an
  invalid run would put its report beside a complete earlier result it leaves alone); not a
  settings or policy file; not a folder, socket or block device; in a folder that exists or can be made.

Paths are compared after resolving symlinks and, for what exists, by device and inode (bind mounts,
case-insensitive file systems, hard links to a folder's path all count as the same place).

`deliver` writes the copy: a regular file (or a new one) atomically, at the path its symlinks lead to
(a link stays a link); a character device or a FIFO (/dev/stdout, /dev/null, a named pipe a reader
waits on) by opening it for writing, as a shell's `>` does, never by renaming a file over it, which
would replace the device node. Our own stdout or stderr, also when redirected to a file, is written
through its open descriptor, after what was printed before.
"""

from __future__ import annotations

import errno
import os
import select
import stat
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from gather_job.errors import UsageError
from gather_job.settings.values import escaped, path_problem
from gather_job.storage import atomic, s3uri
from gather_job.storage.folder import special_kind
from gather_job.storage.s3uri import S3Uri
from gather_job.storage.target import ORIGINALS, REPORT_NAME

if TYPE_CHECKING:
    from gather_job.settings.model import JobSettings

STREAM_IDLE_S = 60.0  # a FIFO or device that takes nothing for this long is given up on (no hang)
_STREAMS = ("a character device", "a FIFO (named pipe)")
Read = Iterable[tuple[str | None, str]]  # (path, what it is) of other files the run reads


def check_run(settings: JobSettings) -> None:
    """Refuse (exit 2) a run whose outputs could touch its inputs or a special file, before any work."""
    output = _local(settings.output_dir, "output_dir")
    if output is not None:
        source = _local(settings.metadata_dir, "metadata_dir")
        _check_output_dir(output, source)
    elif settings.output_dir and settings.metadata_dir:
        _check_output_prefix(settings.output_dir, settings.metadata_dir)
    if settings.report:
        check_copy(settings.report, "report", settings, read=[(settings.job_type_source, "job_type_source file")])


def check_copy(value: str, setting: str, settings: JobSettings, *, read: Read = ()) -> None:
    """Refuse (exit 2) a report copy's path that names an input, a folder or a special file."""
    shown = escaped(value)
    if "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise UsageError(f"{setting} '{shown}' holds a NUL or bytes that are not UTF-8 text.", hint="Rename it.")
    if problem := path_problem(value):
        raise UsageError(f"{setting} '{shown}' {problem}.")
    path = Path(value)
    info = _stat(path)
    kind = special_kind(info.st_mode) if info is not None else None
    if kind == "a folder" or value.endswith(("/", os.sep)):
        raise UsageError(
            f"{setting} '{shown}' is a folder; it must name a file.",
            hint=f"Give a file name, e.g. {path / REPORT_NAME}.",
        )
    if kind is not None and kind not in _STREAMS:
        raise UsageError(
            f"{setting} '{shown}' is {kind}: a report goes to a regular file, or into a character device or a "
            "FIFO (/dev/stdout, a named pipe).",
            hint=f"Point {setting} at a file.",
        )
    source = _local(settings.source_dir, "metadata_dir")
    if source is not None and _within(path, source):
        which = "metadata_dir" if settings.metadata_dir else "output_dir, the folder the metadata is read from"
        raise UsageError(
            f"{setting} '{shown}' is inside {which} ('{source}'): the job never writes into its inputs.",
            hint=f"Point {setting} at a file outside that folder, e.g. next to it.",
        )
    output = _local(settings.output_dir, "output_dir")
    if output is not None and _within(path, output):
        raise UsageError(
            f"{setting} '{shown}' is inside output_dir ('{output}'), where {REPORT_NAME} is always written: a copy "
            "there would travel with the asset, and would replace the report of a complete earlier result that an "
            "invalid run leaves alone.",
            hint=f"Point {setting} outside output_dir, or leave it out ({output / REPORT_NAME} is the report).",
        )
    for other, what in read:
        if other and other != "-" and not other.startswith("ssm:") and _same(path, Path(other)):
            raise UsageError(f"{setting} '{shown}' is the {what}, which writing the report would replace.")
    if kind is None:
        _writable(Path(os.path.realpath(path)).parent, setting, value)


def deliver(value: str, data: bytes, setting: str) -> None:
    """Write a report copy to `value` (see the module's docstring for how each kind of path is written)."""
    path = Path(value)
    try:
        info = _stat(path)
        own = _own_stream(info) if info is not None else None
        kind = special_kind(info.st_mode) if info is not None else None
        if own is not None:
            (sys.stdout if own == 1 else sys.stderr).flush()
            _pump(own, data, setting, value)
        elif kind in _STREAMS:
            _write_stream(path, data, setting)
        elif kind is not None:
            raise UsageError(f"{setting} '{escaped(value)}' is {kind} now; the report was not written there.")
        else:
            target = Path(os.path.realpath(path))  # a symlink's target is written; the link stays
            target.parent.mkdir(parents=True, exist_ok=True)
            with atomic.locked(target.parent, required=False):
                atomic.replace(target, data)
    except OSError as exc:
        raise UsageError(
            f"Cannot write {setting} '{escaped(value)}': {exc.strerror or exc}.",
            hint="The outputs were written; only this copy of the report is missing.",
        ) from exc


def _local(value: str | None, setting: str) -> Path | None:
    if not value or s3uri.location(value, setting) is not None:
        return None
    return Path(value)


def _stat(path: Path) -> os.stat_result | None:
    """The file's stat, following symlinks; None when nothing is there (or a parent is no folder)."""
    try:
        return path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise UsageError(f"'{escaped(str(path))}' cannot be looked at: {exc.strerror or exc}.") from exc


def _same(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _within(path: Path, folder: Path) -> bool:
    """Whether `path` is `folder` or inside it, by resolved name or by the identity of an existing ancestor."""
    real, base = Path(os.path.realpath(path)), Path(os.path.realpath(folder))
    if real == base or base in real.parents:
        return True
    try:
        identity = (folder.stat().st_dev, folder.stat().st_ino)
    except OSError:
        return False
    for candidate in (real, *real.parents):
        info = _stat(candidate)
        if info is not None and (info.st_dev, info.st_ino) == identity:
            return True
    return False


def _check_output_dir(output: Path, source: Path | None) -> None:
    info = _stat(output)
    if info is not None and not stat.S_ISDIR(info.st_mode):
        raise UsageError(
            f"output_dir '{output}' is {special_kind(info.st_mode) or 'a file'}, not a folder.",
            hint="Point output_dir at a folder (an existing one, or a new path the job creates).",
        )
    if source is not None and not _same(output, source):
        if _within(output, source):
            raise UsageError(
                f"output_dir '{output}' is inside metadata_dir '{source}': the outputs would become part of the "
                "input folder (the next run would find them there) and be uploaded with it twice.",
                hint="Set output_dir to metadata_dir itself (the pipeline's way: the files are written into it and "
                f"the inputs kept under {ORIGINALS}/), or to a folder outside it.",
            )
        if _within(source, output / ORIGINALS.split("/")[0]):
            raise UsageError(
                f"metadata_dir '{source}' is inside '{output / ORIGINALS.split('/')[0]}', where the run keeps "
                "copies of its input files, replacing and removing what is there.",
                hint="Read the metadata from the asset's folder itself, or copy the files elsewhere first.",
            )
    _writable(output, "output_dir", str(output))


def _check_output_prefix(output_dir: str, metadata_dir: str) -> None:
    """The local rules for two S3 prefixes: the output is the input prefix or outside it, and the input
    is not where the output keeps the originals (a run there deleted input objects as stale copies)."""
    output, source = s3uri.location(output_dir, "output_dir"), s3uri.location(metadata_dir, "metadata_dir")
    if output is None or source is None or output == source:
        return
    if output.within(source):
        raise UsageError(
            f"output_dir '{output}' is inside metadata_dir '{source}': the outputs would become part of the "
            "input prefix (the next run would find them there) and be uploaded with it twice.",
            hint="Set output_dir to metadata_dir itself (the pipeline's way: the files are written into it and "
            f"the inputs kept under {ORIGINALS}/), or to a prefix outside it.",
        )
    if source.within(S3Uri(output.bucket, f"{output.prefix}{ORIGINALS.split('/')[0]}/")):
        raise UsageError(
            f"metadata_dir '{source}' is inside '{output.url(ORIGINALS.split('/')[0])}/', where the run keeps "
            "copies of its input files, replacing and deleting what is there.",
            hint="Read the metadata from the asset's prefix itself, or copy the objects elsewhere first.",
        )


def _writable(path: Path, setting: str, value: str) -> None:
    """The nearest existing folder on the way to `path` must be a folder this user may create files in."""
    for candidate in (path, *path.parents):
        info = _stat(candidate)
        if info is None:
            continue
        if not stat.S_ISDIR(info.st_mode):
            raise UsageError(
                f"{setting} '{escaped(value)}' cannot be made: '{candidate}' is a file, not a folder.",
                hint=f"Point {setting} somewhere else.",
            )
        if not os.access(candidate, os.W_OK | os.X_OK):
            raise UsageError(
                f"{setting} '{escaped(value)}' cannot be written: this user may not create files in '{candidate}' "
                "(or it is on a read-only file system).",
                hint=f"Point {setting} at a writable place, or fix the folder's permissions.",
            )
        return


def _own_stream(info: os.stat_result) -> int | None:
    """1 or 2 when `info` is this process's own stdout or stderr (a terminal, a pipe, a redirected file)."""
    for fd in (1, 2):
        try:
            own = os.fstat(fd)
        except OSError:
            continue
        if (own.st_dev, own.st_ino) == (info.st_dev, info.st_ino):
            return fd
    return None


def _write_stream(path: Path, data: bytes, setting: str) -> None:
    """Open a device or FIFO for writing without creating, truncating or waiting on it, and write `data`."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno != errno.ENXIO:
            raise
        raise UsageError(
            f"Cannot write {setting} '{escaped(str(path))}': it is a FIFO no process is reading "
            "(waiting for one could last forever).",
            hint="Start the reader first (e.g. `cat FIFO &`), or give a file.",
        ) from exc
    try:
        if special_kind(os.fstat(fd).st_mode) not in _STREAMS:  # swapped since it was looked at
            raise UsageError(f"{setting} '{escaped(str(path))}' was replaced while the job ran; nothing written.")
        _pump(fd, data, setting, str(path))
    finally:
        os.close(fd)


def _pump(fd: int, data: bytes, setting: str, value: str) -> None:
    """Write all of `data` to `fd`, waiting while the reader is slow, giving up when it takes nothing."""
    view = memoryview(data)
    idle_since = time.monotonic()
    while view:
        try:
            written = os.write(fd, view[: 64 * 1024])
        except BlockingIOError:
            written = 0
        if written:
            view = view[written:]
            idle_since = time.monotonic()
            continue
        left = STREAM_IDLE_S - (time.monotonic() - idle_since)
        if left <= 0:
            raise UsageError(
                f"Cannot write {setting} '{escaped(value)}': nothing read from it for {STREAM_IDLE_S:g} s.",
                hint="Give a file, or a reader that reads.",
            )
        select.select([], [fd], [], left)
