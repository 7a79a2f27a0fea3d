"""The `Target` a run writes to, the `if_exists` decision, and writing into a local folder.

The output folder is the pipeline's (its staging folder, with the mode, group and setgid bit it
chose): the job writes *into* it and never replaces it, so its inode and permissions stay. Under
an exclusive lock on the folder (concurrent runs wait for each other, and the `if_exists` decision
is taken again under it), each file is written atomically (a temporary file beside it, renamed
over it): first the old report is removed, then the core files and the kept originals are written,
core files of an earlier run that this run does not write are removed, and the report comes last.
A run killed midway leaves a folder without gather_report.json: visibly incomplete until a rerun.
Input files (metadata_dir may be the output folder) are never rewritten. An invalid run leaves a
complete earlier result alone (docs/design.md §9).
"""

from __future__ import annotations

import errno
import functools
import hashlib
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from gather_job.errors import OutputRefused, UsageError
from gather_job.schema import CORE_FILES, file_name
from gather_job.storage import atomic, earlier_run, kept_inputs, s3uri

if TYPE_CHECKING:
    from gather_job.aws import Clients
    from gather_job.settings.model import JobSettings

REPORT_NAME = earlier_run.REPORT_NAME
OUR_FILES = frozenset({file_name(kind) for kind in CORE_FILES} | {REPORT_NAME})
ORIGINALS = kept_inputs.KEPT  # where the input files are kept, as the reference keeps them
Hook = Callable[[str], None]
Originals = Mapping[str, Callable[[], bytes]]  # name -> the input's bytes, read when written


@runtime_checkable
class Streamed(Protocol):
    """Files that can also be had in pieces (the core files: a large one is never one buffer)."""

    def pieces(self, name: str) -> Iterable[bytes]: ...


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
    """A folder holds an asset when a previous gather wrote its files there (`earlier_run.holds_asset`)."""
    report = target / REPORT_NAME
    if not report.is_file():
        return False
    try:
        return earlier_run.holds_asset(report.read_bytes())
    except OSError:
        return True  # a report that cannot be read: nothing to tell, so the result is left alone


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
    """Where a run's files go: a local folder (`LocalTarget`) or an S3 prefix (`s3_target.S3Target`)."""

    @property
    def label(self) -> str: ...

    def prepare(self) -> bool:
        """Apply `if_exists` before the gather: False means skip; raises OutputRefused for `error`."""
        ...

    def write(
        self,
        files: Mapping[str, bytes],
        report: bytes | Callable[[], bytes],
        *,
        inputs: frozenset[str],
        originals: Originals,
        invalid: bool,
        rewrite: frozenset[str] = frozenset(),
    ) -> list[str]:
        """Write the kept originals, the files, the report last; never rewrite an input (`Folder.location`
        strings) but the core files named in `rewrite` (a run in place, whose originals keep them first:
        `kept_inputs`). `files` may serialize each file as it is taken, and `report` may be built when it
        is written (it lists what was). An `invalid` run (report only) leaves a complete earlier result
        alone. Returns the names written (the report's absence means it was not written there)."""
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
        _check_folder(self.path)
        return proceed(holds_asset(self.path), self.policy, str(self.path))

    def write(
        self,
        files: Mapping[str, bytes],
        report: bytes | Callable[[], bytes],
        *,
        inputs: frozenset[str],
        originals: Originals,
        invalid: bool,
        rewrite: frozenset[str] = frozenset(),
    ) -> list[str]:
        pause = self.hook or (lambda step: None)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            _check_folder(self.path)
            with atomic.locked(self.path):
                holds = holds_asset(self.path)
                if not proceed(holds, self.policy, str(self.path)) or (invalid and holds):
                    return []  # another run completed meanwhile (skip), or an invalid run over a good result
                _refuse_obstacles(self.path, [*files, *(f"{ORIGINALS}/{name}" for name in originals), REPORT_NAME])
                kept_out = {Path(p) for p in inputs} - {(self.path / name).resolve() for name in rewrite}
                return _write_into(self.path, files, report, kept_out, {Path(p) for p in inputs}, originals, pause)
        except OSError as exc:
            where = exc.filename if isinstance(exc.filename, str) else str(self.path)
            full = exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
            raise UsageError(
                f"Cannot write {where} in output_dir '{self.path}': {exc.strerror or exc}"
                + (" (the disk is full, or a quota or file-size limit was reached)." if full else "."),
                hint=(
                    "Free space (or raise the limit), then run again: the output has no gather_report.json, so "
                    "it shows as incomplete, and a rerun replaces what this one wrote."
                    if full
                    else "Check that the folder is writable and the disk is not full."
                ),
            ) from exc


def _refuse_obstacles(target: Path, names: Iterable[str]) -> None:
    """Refuse (exit 2), before anything is written, a path that something else stands in the way of: a file
    where a folder must be (`original_metadata`), a folder where a file must be. Found midway, the
    same made a half-written output with a message naming only the output folder."""
    for name in names:
        path = target
        for part in name.split("/")[:-1]:
            path = path / part
            if path.is_symlink():
                raise UsageError(
                    f"{path} is a symbolic link; the run keeps its inputs in a folder of its own there "
                    f"({ORIGINALS}/) and would write and remove files where the link points; nothing was written.",
                    hint=f"Replace the link {path} with a folder (or remove it), then run again.",
                )
            if path.exists() and not path.is_dir():
                raise UsageError(
                    f"{path} is a file, but the run keeps its inputs in a folder of that name ({ORIGINALS}/); "
                    "nothing was written.",
                    hint=f"Move or remove {path}, then run again.",
                )
        path = target / name
        if path.is_dir() and not path.is_symlink():
            raise UsageError(
                f"{path} is a folder, but the run writes a file of that name; nothing was written.",
                hint=f"Move or remove the folder {path}, then run again.",
            )


def _check_folder(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(mode):
        raise UsageError(f"output_dir '{path}' is not a folder.", hint="Point output_dir at a folder (or a new path).")


@contextmanager
def _naming(path: Path) -> Iterator[None]:
    """A write that fails (a full disk) names no file; the error then names the one being written."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None:
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc
        raise


def _write_into(
    target: Path,
    files: Mapping[str, bytes],
    report: bytes | Callable[[], bytes],
    protected: set[Path],
    inputs: set[Path],
    originals: Originals,
    pause: Hook,
) -> list[str]:
    """`protected`: the inputs never written over (every input but those rewritten in place)."""
    written: list[str] = []
    kept = target / ORIGINALS
    # temporaries of killed runs: each writer holds the lock while its own exist, so any seen now is dead
    atomic.remove_dead_temporaries(target)
    if kept.is_dir():
        atomic.remove_dead_temporaries(kept)
    stale, marker = target / REPORT_NAME, target / earlier_run.MARKER
    # the input folder itself: which files are outputs must outlive the old report (the rerun reads it)
    in_place = any(path.parent == target.resolve() for path in inputs)
    known = earlier_run.known_outputs(_bytes_of(stale), _bytes_of(marker)) if in_place else {}
    if in_place:
        atomic.replace(marker, earlier_run.marker_bytes(known))
    if stale.exists():
        pause("unlink-report")
        stale.unlink()  # until the new report lands, the folder is visibly incomplete
    if originals:  # first: an input rewritten in place (`kept_inputs`) is kept before it is replaced
        kept.mkdir(parents=True, exist_ok=True)
        for name, read in originals.items():
            with _naming(kept / name):
                atomic.replace(kept / name, read(), before_rename=functools.partial(pause, f"original:{name}"))
            written.append(f"{ORIGINALS}/{name}")
    for name in files:
        final = target / name
        if final.resolve() in protected:
            continue  # an input file of this very folder: never rewritten
        data = files.pieces(name) if isinstance(files, Streamed) else files[name]
        digest = hashlib.sha256()
        with _naming(final):
            atomic.replace(
                final,
                _hashing(data, digest),
                before_rename=functools.partial(_landing, name, digest, known if in_place else None, marker, pause),
            )
        written.append(name)
    if kept.is_dir():
        for old in kept.iterdir():
            if old.name not in originals and old.is_file():
                old.unlink()
    for name in sorted(OUR_FILES - {REPORT_NAME} - set(files)):
        old = target / name
        if old.is_file() and old.resolve() not in protected:
            old.unlink()  # an earlier run's core file this run does not write
    final_report = report() if callable(report) else report  # built now: it lists what was written
    with _naming(target / REPORT_NAME):
        step = functools.partial(pause, f"replace:{REPORT_NAME}")
        atomic.replace(target / REPORT_NAME, final_report, before_rename=step)
    written.append(REPORT_NAME)
    marker.unlink(missing_ok=True)  # the report now lists what this run wrote
    atomic.fsync_dir(target)
    return written


def _hashing(data: bytes | Iterable[bytes], digest: Any) -> Iterable[bytes]:
    """`data` as it is written, its SHA-256 taken on the way (a large file is never one buffer)."""
    for piece in [data] if isinstance(data, bytes) else data:
        digest.update(piece)
        yield piece


def _landing(name: str, digest: Any, known: dict[str, list[str]] | None, marker: Path, pause: Hook) -> None:
    """Before a file's rename: where the run writes into its inputs (`known` given), the marker learns the
    new checksum first, so a kill on either side of the rename leaves the file with a checksum it lists."""
    if known is not None:
        known.setdefault(name, [])
        if digest.hexdigest() not in known[name]:
            known[name].append(digest.hexdigest())
        atomic.replace(marker, earlier_run.marker_bytes(known))
    pause(f"replace:{name}")


def _bytes_of(path: Path) -> bytes | None:
    try:
        return path.read_bytes() if path.is_file() else None
    except OSError:
        return None
