"""Reading an asset's folder without ever changing it or leaving it.

Entries are listed by name; a read refuses directories, symlinks that resolve outside the folder,
and files larger than `max_bytes`. Problems come back as `InputProblem`s, which the job turns into
findings: one unreadable file must not stop the others from being checked.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass
class LocalFolder:
    """A local asset folder. `missing_ok` lets a fresh staging folder count as empty."""

    path: Path
    missing_ok: bool = False
    max_bytes: int = MAX_BYTES

    @property
    def label(self) -> str:
        return str(self.path)

    def location(self, name: str) -> str:
        """Where an entry really is, to tell whether an output would overwrite it."""
        return str((self.path / name).resolve())

    def names(self) -> list[str]:
        try:
            return sorted(entry.name for entry in self.path.iterdir())
        except FileNotFoundError as exc:
            if self.missing_ok:
                return []
            raise UsageError(
                f"metadata_dir '{self.path}' does not exist.",
                hint="Set metadata_dir to the asset's metadata folder (paths are relative to where the job runs).",
            ) from exc
        except NotADirectoryError as exc:
            raise UsageError(f"metadata_dir '{self.path}' is a file, not a folder.") from exc
        except PermissionError as exc:
            raise UsageError(f"metadata_dir '{self.path}' cannot be listed: permission denied.") from exc

    def read(self, name: str) -> bytes:
        if name in ("", ".", "..") or "/" in name or "\\" in name or "\x00" in name:
            raise InputProblem(
                "gather.file.bad_name",
                f"'{name}' is not a plain file name.",
                "Use names like acquisition.json.",
            )
        entry = self.path / name
        root = self.path.resolve()
        target = entry.resolve()
        if target.parent != root and root not in target.parents:
            raise InputProblem(
                "gather.file.outside_folder",
                f"{name} is a link to a file outside the metadata folder; it was not read.",
                "Copy the file into the folder instead of linking to it.",
            )
        if target.is_dir():
            raise InputProblem("gather.file.not_a_file", f"{name} is a folder, not a file.", "Rename or remove it.")
        try:
            size = target.stat().st_size
            if size > self.max_bytes:
                raise InputProblem(
                    "gather.file.too_large",
                    f"{name} is {size} bytes, above the {self.max_bytes}-byte limit.",
                    "Metadata files are small JSON documents; is this the right file?",
                )
            with target.open("rb") as handle:
                return handle.read(self.max_bytes + 1)
        except OSError as exc:
            raise InputProblem(
                "gather.file.unreadable",
                f"{name} cannot be read: {exc.strerror or exc}.",
                "Check the file's permissions.",
            ) from exc


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
