"""Inputs an earlier run in this folder rewrote: read again from where it kept them.

A run in place (`metadata_dir` unset or equal to `output_dir`: the pipeline's staging folder) writes
a core file over the input of the same name when what it gathered differs (the service's procedures
joined, weights filled, naive times given their offset): else the asset would keep the input, not
what was validated and reported. The input is kept first, byte for byte, under
original_metadata/uploaded_json/. A rerun finds the rewritten file listed as an output
(`earlier_run.outputs_in`) and reads that name's input from the kept copy instead: the same inputs as
the first run, so the same bytes out.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from gather_job.errors import GatherError
from gather_job.findings import Findings
from gather_job.storage.earlier_run import KEPT_INPUTS

if TYPE_CHECKING:
    from gather_job.storage.folder import Folder

KEPT = f"{KEPT_INPUTS}/uploaded_json"  # `target.ORIGINALS`


def restore(folder: Folder, outputs: frozenset[str], findings: Findings) -> tuple[Folder, frozenset[str]]:
    """`folder`, reading the inputs of `outputs` that an earlier run kept from where it kept them; and
    which names those are (the others stay outputs, written again from the inputs)."""
    kept = _kept_folder(folder)
    try:
        there = set(kept.names()) if kept is not None else set()
    except (GatherError, OSError):  # the kept folder cannot be listed: the outputs stay outputs
        there = set()
    restored = frozenset(name for name in outputs if name in there)
    if kept is None or not restored:
        return folder, frozenset()
    names = sorted(restored)
    findings.info(
        "gather.resolve.kept_input",
        f"{', '.join(names)} {'was' if len(names) == 1 else 'were'} rewritten here by an earlier run in place; "
        f"the input {'it' if len(names) == 1 else 'they'} replaced, kept under {KEPT}/, is read instead.",
        files=tuple(names),
    )
    return Restored(folder, kept, restored), restored


def _kept_folder(folder: Folder) -> Folder | None:
    from gather_job.storage.folder import LocalFolder

    if isinstance(folder, LocalFolder):
        return LocalFolder(folder.path / KEPT, missing_ok=True)
    from gather_job.storage.s3_folder import S3Folder
    from gather_job.storage.s3uri import S3Uri

    if isinstance(folder, S3Folder):
        uri = S3Uri(folder.uri.bucket, folder.uri.key(KEPT) + "/")
        return dataclasses.replace(folder, uri=uri, missing_ok=True)
    return None


class Restored:
    """The input folder, with some names read from the kept copies (`restore`); the rest as it is."""

    def __init__(self, folder: Folder, kept: Folder, names: frozenset[str]) -> None:
        self.folder, self.kept, self.restored = folder, kept, names

    @property
    def label(self) -> str:
        return self.folder.label

    def location(self, name: str) -> str:
        return (self.kept if name in self.restored else self.folder).location(name)

    def read(self, name: str) -> bytes:
        return (self.kept if name in self.restored else self.folder).read(name)

    def __getattr__(self, attribute: str) -> Any:  # names, subfolders, is_empty, names_below, ...
        return getattr(self.folder, attribute)
