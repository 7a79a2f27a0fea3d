"""Metadata one folder down: the folder given holds none, but a subfolder of it does.

The job reads only the folder it is given (as the reference does), so a `metadata_dir` one level too
high, or `gather-job check` run on an asset's parent, quietly gives an asset whose subject and
procedures come from the service and whose acquisition is missing. Only when the folder holds no
metadata at all are a few of its subfolders listed (names only, never read), and the ones holding
metadata are named with the path to use instead. A subfolder holding a core file by its exact name
(subject.json, acquisition.json, ...) is an asset's metadata folder: an error, since that metadata
would be left out (and at a desk "0 errors" for a folder without metadata reads as a pass). One with
merge parts or 1.x files only (`derived/instrument_settings.json`) may be something else: a warning.
Modality folders (in any case, `-` or `_`) hold data, not metadata, and are not listed.
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
    known = {name.replace("_", "-") for name in abbreviations()}
    names = [
        name for name in folder.subfolders() if not name.startswith(".") and name.lower().replace("_", "-") not in known
    ]
    return names[:MAX_LOOKED_AT]


def _listed(names: list[str]) -> str:
    more = len(names) - _SHOWN
    return ", ".join(names[:_SHOWN]) + (f" and {more} more" if more > 0 else "")


def report(folder: Folder, found: Plan, findings: Findings) -> None:
    """One finding naming the subfolder(s) that hold metadata, and the path or command to use."""
    holding: dict[str, list[str]] = {}
    core = False  # some subfolder holds a core file by its exact name: an asset's metadata folder
    for name in looked_at(folder, found):
        below = plan_files(folder.names_below(name))
        if below.meant():
            holding[name] = below.meant()
            core = core or bool(below.exact)
    label = folder.label.rstrip("/")
    add = findings.error if core else findings.warning
    if len(holding) == 1:
        ((name, files),) = holding.items()
        add(
            "gather.resolve.in_subfolder",
            f"{label} holds no metadata file, but its subfolder {name}/ holds {_listed(files)}: the job reads only "
            "the folder it is given, not its subfolders.",
            files=(f"{name}/",),
            hint=f"Point metadata_dir at {label}/{name} (at a desk: `gather-job check {label}/{name}`).",
        )
    elif holding:
        shown = [f"{name}/" for name in holding]
        add(
            "gather.resolve.in_subfolder",
            f"{label} holds no metadata file, but its subfolders {_listed(shown)} do: it looks like a folder of "
            "assets, or a metadata_dir one level too high.",
            files=tuple(shown[:_SHOWN]),
            hint=f"Check every asset in it with `gather-job check --each {label}`, or point metadata_dir at the "
            "asset's own folder.",
        )
