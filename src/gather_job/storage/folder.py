"""Reading an asset's folder without ever changing it, leaving it, or waiting on it.

Entries are listed by name; a read refuses directories, symlinks that resolve outside the folder,
and files larger than `max_bytes`. Problems come back as `InputProblem`s, which the job turns into
findings: one unreadable file must not stop the others from being checked.

Only regular files are opened: opening a FIFO named acquisition_x.json would block until a writer
came, forever, and a device may never end. The kind is checked with stat first, then the file is
opened non-blocking and checked again with fstat, so an entry swapped in between is still caught.

Names are shown to people, written to JSON and stderr, and matched against core file names, so
`names()` hands out text only: a name whose bytes are not UTF-8, or that holds control characters
(a newline, an ANSI escape, a right-to-left override), comes out escaped (`shown_name`), and reading
it is refused as `gather.file.bad_name`, naming it in that escaped form.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from gather_job.errors import UsageError
from gather_job.storage import s3uri

if TYPE_CHECKING:
    from gather_job.aws import Clients
    from gather_job.settings.model import JobSettings

MAX_BYTES = 256 * 1024 * 1024


class InputProblem(Exception):
    """A single entry cannot be read; `id` and `hint` become the finding's."""

    def __init__(self, id: str, message: str, hint: str) -> None:
        super().__init__(message)
        self.id = id
        self.message = message
        self.hint = hint


class Folder(Protocol):
    """Where inputs are read from: a local folder or an S3 prefix."""

    @property
    def label(self) -> str: ...

    def location(self, name: str) -> str: ...

    def names(self) -> list[str]: ...

    def read(self, name: str) -> bytes: ...

    def subfolders(self) -> list[str]: ...

    def is_empty(self, name: str) -> bool: ...

    def names_below(self, name: str) -> list[str]: ...


def shown_name(name: str) -> str:
    """A name as text that is safe to print and to write as UTF-8: undecodable bytes (surrogate escapes
    from the file system) as \\xff, control and format characters as \\n, \\x1b, \\u202e."""
    if name.isprintable():
        return name
    raw = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace") if _undecodable(name) else name
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in raw)


def _undecodable(name: str) -> bool:
    return any(0xDC80 <= ord(c) <= 0xDCFF for c in name)


_KINDS: tuple[tuple[Callable[[int], bool], str], ...] = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _link_target(entry: Path) -> str:
    """Where a link points, as safe text (see `shown_name`); an absolute target by its name only, since
    findings go into the report, which holds no local path."""
    try:
        target = entry.readlink()
    except OSError:
        return "?"
    return f".../{shown_name(target.name)}" if target.is_absolute() else shown_name(str(target))


def _loops(entry: Path) -> bool:
    try:
        entry.stat()
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


def special_kind(mode: int) -> str | None:
    """What a non-regular entry is, for a message; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return next((what for test, what in _KINDS if test(mode)), "not a regular file")


_GIVEN = "metadata_dir in the settings, or the PATH of `gather-job check PATH`"


@dataclass
class LocalFolder:
    """A local asset folder. `missing_ok` lets a fresh staging folder count as empty."""

    path: Path
    missing_ok: bool = False
    max_bytes: int = MAX_BYTES
    _escaped: dict[str, str] = field(default_factory=dict, init=False, repr=False)  # shown name -> real name

    @property
    def label(self) -> str:
        return str(self.path)

    def location(self, name: str) -> str:
        """Where an entry really is, to tell whether an output would overwrite it."""
        entry = self.path / self._escaped.get(name, name)
        try:
            return str(entry.resolve())
        except (RuntimeError, OSError):  # a link that loops back on itself (RuntimeError up to 3.12): as named
            return str(entry.absolute())

    def names(self) -> list[str]:
        """Entry names as safe text (see `shown_name`); the real names of escaped ones are kept for `location`."""
        try:
            real = [entry.name for entry in self.path.iterdir()]
        except FileNotFoundError as exc:
            if self.missing_ok:
                return []
            raise UsageError(
                f"The metadata folder '{self.path}' does not exist.",
                hint=f"Give the asset's metadata folder ({_GIVEN}; a relative path starts where the job runs).",
            ) from exc
        except NotADirectoryError as exc:
            raise UsageError(
                f"The metadata folder '{self.path}' is a file, not a folder.",
                hint=f"Give the folder that holds the asset's metadata files ({_GIVEN}).",
            ) from exc
        except PermissionError as exc:
            raise UsageError(f"The metadata folder '{self.path}' cannot be listed: permission denied.") from exc
        if real and not os.access(self.path, os.X_OK):  # `r` without `x`: names, but no file can be opened
            raise UsageError(
                f"The metadata folder '{self.path}' can be listed but not entered: it lacks search (x) "
                "permission for this user, so none of its files can be opened.",
                hint=f"Give the folder back its x permission (chmod a+x '{self.path}'; a `chmod -R 644` "
                "removes it from folders too).",
            )
        self._escaped = {shown_name(name): name for name in real if shown_name(name) != name}
        return sorted({shown_name(name) for name in real})

    def names_below(self, name: str) -> list[str]:
        """A subfolder's entry names, for a hint only: [] when it cannot be listed."""
        try:
            return sorted(shown_name(entry.name) for entry in (self.path / self._escaped.get(name, name)).iterdir())
        except OSError:
            return []

    def subfolders(self) -> list[str]:
        """The names of the folders in it (a modality's data sits in one), as safe text."""
        try:
            with os.scandir(self.path) as entries:
                return sorted(shown_name(entry.name) for entry in entries if _is_dir(entry))
        except OSError:
            return []

    def is_empty(self, name: str) -> bool:
        """Whether a sub-folder holds nothing but hidden files (`.DS_Store`); unreadable counts as not empty."""
        try:
            with os.scandir(self.path / self._escaped.get(name, name)) as entries:
                return all(entry.name.startswith(".") for entry in entries)
        except OSError:
            return False

    def read(self, name: str) -> bytes:
        if name in self._escaped or not name.isprintable():
            why = (
                "bytes that are not UTF-8 text" if _undecodable(self._escaped.get(name, name)) else "control characters"
            )
            raise InputProblem(
                "gather.file.bad_name",
                f"'{shown_name(name)}' is not a usable file name: it holds {why} (shown escaped); it was not read.",
                "Rename the file to a plain UTF-8 name such as acquisition_ephys.json.",
            )
        if name in ("", ".", "..") or "/" in name or "\\" in name:
            raise InputProblem(
                "gather.file.bad_name",
                f"'{name}' is not a plain file name.",
                "Use names like acquisition.json.",
            )
        try:
            return self._read_entry(name)
        except OSError as exc:  # a stat on the way refused (a folder that cannot be entered, a swapped link)
            raise InputProblem(
                "gather.file.unreadable",
                f"{name} cannot be read: {exc.strerror or exc}.",
                "Check the permissions of the file and of the folder holding it.",
            ) from exc

    def _read_entry(self, name: str) -> bytes:
        root = self.path.resolve()
        entry = self.path / name
        if entry.is_symlink() and not entry.exists():  # its target is gone (or a loop): nothing to read
            what = "loops back on itself" if _loops(entry) else "does not exist"
            raise InputProblem(
                "gather.file.broken_link",
                f"{name} is a broken link: what it points to ({_link_target(entry)}) {what}; it was not read.",
                f"Replace the link with the file itself (copy the JSON file into the folder as {name}), or remove "
                "the link if the file is not needed.",
            )
        target = entry.resolve()
        if target.parent != root and root not in target.parents:
            raise InputProblem(
                "gather.file.outside_folder",
                f"{name} is a link to a file outside the metadata folder; it was not read.",
                "Copy the file into the folder instead of linking to it.",
            )
        try:
            self._check(name, target.stat())  # stat, not open: opening a FIFO would wait for a writer
            flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
            with os.fdopen(os.open(target, flags), "rb") as handle:
                self._check(name, os.fstat(handle.fileno()))  # what was opened, should it have been swapped
                return handle.read(self.max_bytes + 1)
        except OSError as exc:
            raise InputProblem(
                "gather.file.unreadable",
                f"{name} cannot be read: {exc.strerror or exc}.",
                "Check the file's permissions (or whether it was replaced while the job ran).",
            ) from exc

    def _check(self, name: str, info: os.stat_result) -> None:
        kind = special_kind(info.st_mode)
        if kind == "a folder":
            raise InputProblem("gather.file.not_a_file", f"{name} is a folder, not a file.", "Rename or remove it.")
        if kind is not None:
            raise InputProblem(
                "gather.file.not_a_file",
                f"{name} is {kind}, not a regular file; it was not opened (reading it could wait forever).",
                "Remove it, or put the JSON file itself in its place.",
            )
        if info.st_size > self.max_bytes:
            raise InputProblem(
                "gather.file.too_large",
                f"{name} is {info.st_size} bytes, above the {self.max_bytes}-byte limit.",
                "Metadata files are small JSON documents; is this the right file?",
            )


def open_folder(settings: JobSettings, clients: Clients | None = None) -> Folder:
    """The folder inputs are read from: metadata_dir, else output_dir; local or an S3 prefix."""
    source = settings.source_dir
    if source is None:
        raise UsageError(
            "No metadata_dir or output_dir is set, so there is no folder to read.", hint="Set metadata_dir."
        )
    setting = "metadata_dir" if settings.metadata_dir else "output_dir"
    missing_ok = settings.metadata_dir is None
    uri = s3uri.location(source, setting)
    if uri is None:
        return LocalFolder(Path(source), missing_ok=missing_ok)
    from gather_job.storage.s3_folder import S3Folder

    if clients is None:
        from gather_job.aws import Clients

        clients = Clients(settings)
    client = clients.s3()
    return S3Folder(uri, client, setting=setting, missing_ok=missing_ok)
