"""Metadata one folder down: the folder given holds none, but a subfolder of it does.

The job reads only the folder it is given (as the reference does), so a `metadata_dir` one level too
high, or `gather-job check` run on an asset's parent, quietly gives an asset whose subject and
procedures come from the service and whose acquisition is missing: an error, since metadata that
exists would be left out (and at a desk "0 errors" for a folder without metadata reads as a pass).
Only when the folder holds no metadata at all are a few of its subfolders listed (names only, never
read), and the ones holding core files are named with the path to use instead. Modality folders hold
data, not metadata, and are not listed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gather_job.findings import Findings
from gather_job.pipeline.modality_folders import abbreviations
from gather_job.pipeline.plan import Plan, plan_files

if TYPE_CHECKING:
    from gather_job.storage.folder import Folder

MAX_LOOKED_AT = 20  # one listing each on S3; a folder of thousands of assets needs `--each`, said below
_SHOWN = 5


def looked_at(folder: Folder, found: Plan) -> list[str]:
    """The subfolders worth a listing: none unless the folder holds no metadata file at all."""
    if found.meant():
        return []
    known = abbreviations()
    names = [name for name in folder.subfolders() if not name.startswith(".") and name not in known]
    return names[:MAX_LOOKED_AT]


def _listed(names: list[str]) -> str:
    more = len(names) - _SHOWN
    return ", ".join(names[:_SHOWN]) + (f" and {more} more" if more > 0 else "")


def report(folder: Folder, found: Plan, findings: Findings) -> None:
    """One error naming the subfolder(s) that hold core files, and the path or command to use."""
    holding: dict[str, list[str]] = {}
    for name in looked_at(folder, found):
        meant = plan_files(folder.names_below(name)).meant()
        if meant:
            holding[name] = meant
    label = folder.label.rstrip("/")
    if len(holding) == 1:
        ((name, files),) = holding.items()
        findings.error(
            "gather.resolve.in_subfolder",
            f"{label} holds no metadata file, but its subfolder {name}/ holds {_listed(files)}: the job reads only "
            "the folder it is given, not its subfolders.",
            files=(f"{name}/",),
            hint=f"Point metadata_dir at {label}/{name} (at a desk: `gather-job check {label}/{name}`).",
        )
    elif holding:
        shown = [f"{name}/" for name in holding]
        findings.error(
            "gather.resolve.in_subfolder",
            f"{label} holds no metadata file, but its subfolders {_listed(shown)} do: it looks like a folder of "
            "assets, or a metadata_dir one level too high.",
            files=tuple(shown[:_SHOWN]),
            hint=f"Check every asset in it with `gather-job check --each {label}`, or point metadata_dir at the "
            "asset's own folder.",
        )
