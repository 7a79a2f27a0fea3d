"""The data against the metadata: one folder per modality, named by its abbreviation.

An uploaded asset holds its metadata files next to one folder per modality (`ecephys/`,
`behavior-videos/`, ...; aind-data-transfer names them by `Modality.abbreviation`). When the checked
folder has such folders, or the settings list the upload's (`modality_folders`), every modality the
acquisition's data streams and data_description name must have its folder, and every modality folder
should be described (a warning: the data is there, the metadata is short); an empty modality
folder is a warning. Other folders (`original_metadata/`,
`derived/`) are not modalities and are left alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gather_job.findings import Findings, Severity
from gather_job.suggest import closest

Place = tuple[str, str]  # (file, location in it)

if TYPE_CHECKING:
    from gather_job.pipeline.documents import Gathered
    from gather_job.storage.folder import Folder


def abbreviations() -> dict[str, str]:
    """abbreviation (as written, and lower-cased) -> the abbreviation."""
    from aind_data_schema_models.modalities import Modality

    known = {str(a): str(a) for a in Modality.abbreviation_map}
    return {**known, **{a.lower(): a for a in known}}


def present(folder: Folder) -> dict[str, bool]:
    """The folder's modality folders -> whether each is empty (asked only of those, one listing each on S3);
    its other folders (not hidden) -> False, unasked: a near miss of a missing one is named in its finding."""
    known = abbreviations()
    return {
        name: folder.is_empty(name) if name in known else False
        for name in folder.subfolders()
        if not name.startswith(".")
    }


def check_asset(folders: Mapping[str, bool], result: Gathered, *, final: bool = True) -> None:
    """The data against the metadata, once the metadata is gathered (validated models only).

    `final`: the folder names are the asset's own (an S3 prefix, a gathered asset). A local source
    folder the pipeline reads (a user's session folder) may name its data folders as it likes: the
    upload request gives each modality's source, and the transfer names the uploaded folders. There
    a missing folder is a warning, unless the settings list the upload's folders (`modality_folders`).
    """
    docs = {kind: result.documents[kind] for kind in ("acquisition", "data_description") if kind in result.documents}
    if not docs or any(doc.model is None for doc in docs.values()):
        return  # nothing to hold the folders against, or an invalid file (an error already) would mislead
    labels = result.labels
    acquisitions = [(d.label, d.model) for d in result.parts.get("acquisition", []) if d.valid]
    if not acquisitions and "acquisition" in docs:
        acquisitions = [(labels["acquisition"], docs["acquisition"].model)]
    description = (labels["data_description"], docs["data_description"].model) if "data_description" in docs else None
    wanted = described(acquisitions, description)
    listed = result.settings.modality_folders
    built = "data_description" not in docs or "built_from" in docs["data_description"].origin
    in_file = None if built else labels["data_description"]
    check(folders, listed, wanted, result.findings, final=final or bool(listed), description_file=in_file)


def described(acquisitions: list[tuple[str, Any]], description: tuple[str, Any] | None) -> dict[str, list[Place]]:
    """Each modality the metadata names -> where: (file, location) of each data stream and of data_description."""
    where: dict[str, list[Place]] = {}
    for label, acquisition in acquisitions:
        for i, stream in enumerate(getattr(acquisition, "data_streams", [])):
            for modality in stream.modalities:
                where.setdefault(modality.abbreviation, []).append((label, f"data_streams[{i}]"))
    if description is not None:
        for modality in description[1].modalities:
            where.setdefault(modality.abbreviation, []).append((description[0], "modalities"))
    return where


def check(
    folders: Mapping[str, bool],
    listed: list[str] | None,
    wanted: Mapping[str, list[Place]],
    findings: Findings,
    *,
    final: bool = True,
    description_file: str | None = None,
) -> None:
    """`folders`: sub-folder name -> whether it is empty; `listed`: the settings' modality_folders;
    `description_file`: data_description is that file (not built from the settings), which is where
    a modality is added."""
    known = abbreviations()
    present = {known[name]: name for name in folders if name in known}
    empty = {known[name] for name, is_empty in folders.items() if name in known and is_empty}
    for name in listed or ():  # the upload's folders, when the checked folder holds only the metadata
        present.setdefault(known.get(name, known.get(name.lower(), name)), name)
    if not present:
        return  # no modality folders to hold the metadata against (a staging folder of metadata only)
    others = [name for name in folders if name not in known]
    for modality, places in sorted(wanted.items()):
        if modality not in present:
            near = closest(modality, others, n=1, cutoff=0.75) or [
                n for n in others if n.lower().replace("_", "-") == modality.lower()
            ]
            findings.add(
                "gather.data.missing_folder",
                Severity.error if final else Severity.warning,
                f"The metadata describes {modality} data ({', '.join(f'{f} {at}' for f, at in places)}), but the "
                f"{'asset' if final else 'folder'} has no {modality}/ folder"
                + ("" if final else f" (it has {', '.join(sorted(n + '/' for n in present.values()))})")
                + (f"; it has {near[0]}/ (did you mean {near[0]!r}?)." if near else "."),
                files=tuple(dict.fromkeys(f for f, _ in places)),
                location=places[0][1],
                value=modality,
                hint=(
                    f"If {near[0]}/ holds the {modality} data, rename it to {modality}/ (a modality's folder is "
                    "named by its abbreviation, exactly). Otherwise upload"
                    if near
                    else "Upload"
                )
                + f" the {modality} data in a folder named '{modality}', or remove the modality from "
                "the metadata if the asset does not hold it."
                + (
                    ""
                    if final
                    else " The upload request names each modality's folder (input_source); if it does, all is well."
                ),
            )
    for modality, name in sorted(present.items()):
        if modality not in wanted:
            findings.warning(
                "gather.data.undescribed_folder",
                f"The asset has a {name}/ folder, but neither the acquisition's data streams nor "
                "data_description list the modality.",
                location=f"{name}/",
                value=name,
                hint=_undescribed_hint(modality, final, description_file),
            )
        elif modality in empty:
            findings.warning(
                "gather.data.empty_folder",
                f"The {name}/ folder is empty.",
                location=f"{name}/",
                value=name,
                hint="Check that the upload copied the data.",
            )


def _undescribed_hint(modality: str, final: bool, description_file: str | None) -> str:
    """What describes the folder: data_description.json where the asset has one, else the upload's
    settings; an uploaded asset's folder can no longer be left out of the upload."""
    where = f"`modalities` in {description_file}" if description_file else "data_description_settings.modalities"
    describe = f"describe the {modality} data stream in acquisition.json and add '{modality}' to {where}"
    if final:
        return (
            f"The asset is already uploaded: {describe}, and replace the asset's metadata files with the "
            "corrected ones; if the folder does not belong to this asset, remove it from the asset."
        )
    return f"{describe[:1].upper()}{describe[1:]}, or leave the folder out of the upload."
