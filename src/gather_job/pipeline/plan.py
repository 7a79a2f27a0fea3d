"""Which input file provides each core file (docs/design.md §5), decided from names alone.

Pure: takes the folder's entry names, returns a plan. Nothing here reads a file or a service.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from gather_job.findings import Findings
from gather_job.pipeline.misnamed import intended
from gather_job.schema import CORE_FILES, MERGEABLE, file_name

# aind-data-schema 1.x names that 2.x renamed: a common reason for "no acquisition found".
LEGACY_NAMES = {"session.json": "acquisition.json", "rig.json": "instrument.json"}
UPGRADE_HINT = (
    "Upgrade the 1.x files to 2.x, offline, with aind-metadata-upgrader: `gather-job upgrade DIR --output-dir "
    "DIR-v2` (needs `pip install 'gather-job[upgrade]'`) writes the 2.x files into DIR-v2 and lists what the "
    "upgrader guessed; then `gather-job check DIR-v2`. Or export the metadata again with the rig's 2.x tools."
)
OUTPUT_ONLY = {"gather_report.json", "metadata.nd.json", ".gather-job-writing.json"}  # earlier_run.MARKER
# Where a core file comes from when the folder has none (what a misnamed file's author loses).
FALLBACK = {
    "subject": "at upload the subject comes from the metadata service (by subject_id)",
    "procedures": "at upload the procedures come from the metadata service (by subject_id)",
    "data_description": "at upload it is built from the upload's settings",
    "instrument": "the instrument comes from the metadata service, and only when instrument_id is set",
}
# Rig mappers the reference registers: `<name>.json` becomes the acquisition part `acquisition_<name>.json`.
MAPPERS = ("fip",)


@dataclass
class Plan:
    """Per core file: the exact file, or the sorted parts to merge; plus what is ignored and why."""

    exact: dict[str, str] = field(default_factory=dict)
    parts: dict[str, list[str]] = field(default_factory=dict)
    ignored_parts: dict[str, list[str]] = field(default_factory=dict)
    legacy: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)
    misnamed: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (kind, the name meant)
    mapped: dict[str, str] = field(default_factory=dict)  # mapper -> its input file, to become a part
    not_mapped: dict[str, str] = field(default_factory=dict)  # mapper -> why its input is left alone

    def inputs(self) -> list[tuple[str, str]]:
        """(kind, name) of every file to read, in a fixed order."""
        wanted = [(kind, name) for kind, name in self.exact.items()]
        for kind, names in self.parts.items():
            wanted.extend((kind, name) for name in names)
        return sorted(wanted, key=lambda item: (CORE_FILES.index(item[0]), item[1]))

    def meant(self) -> list[str]:
        """Every name meant as metadata: read, 1.x, a mapper's input or a near miss (sorted)."""
        names = {name for _, name in self.inputs()} | {*self.legacy, *self.mapped.values(), *self.misnamed}
        return sorted(names)


def plan_files(names: Iterable[str]) -> Plan:
    """Resolve entries by name, in sorted order, as the reference does but deterministically."""
    plan = Plan()
    all_names = sorted(set(names))
    json_names = [n for n in all_names if n.endswith(".json") and n not in OUTPUT_ONLY]
    claimed: set[str] = set()
    for kind in CORE_FILES:
        exact = file_name(kind)
        if exact in json_names:
            plan.exact[kind] = exact
            claimed.add(exact)
    for kind in MERGEABLE:
        parts = [n for n in json_names if n.startswith(kind) and n != file_name(kind) and n not in claimed]
        claimed.update(parts)
        if not parts:
            continue
        if kind in plan.exact:
            plan.ignored_parts[kind] = parts
        else:
            plan.parts[kind] = parts
    for mapper in MAPPERS:
        source, part = f"{mapper}.json", f"acquisition_{mapper}.json"
        if source not in json_names:
            continue
        claimed.add(source)
        if "acquisition" in plan.exact:
            plan.not_mapped[mapper] = f"acquisition.json is in the folder, so {source} is not mapped"
        elif part in json_names:
            plan.not_mapped[mapper] = f"{part} is already in the folder, so {source} is not mapped again"
        else:
            plan.mapped[mapper] = source
    for name in all_names:
        if name in claimed or name in OUTPUT_ONLY:
            continue
        meant = intended(name)
        if name in LEGACY_NAMES:
            plan.legacy.append(name)
        elif meant is not None:
            plan.misnamed[name] = meant
        elif name in json_names:
            plan.unused.append(name)
    return plan


def report(plan: Plan, findings: Findings, *, gathered: bool = False) -> None:
    """What the names alone tell: parts not merged, 1.x names, files left alone, mapper inputs not mapped.

    In a `gathered` asset (a run wrote its files there: a staging folder gathered in place, an upload)
    the merged file beside its parts is what that run made of them: nothing to remove.
    """
    for kind, names in plan.ignored_parts.items():
        if gathered:
            findings.info(
                "gather.resolve.merged_earlier",
                f"{file_name(kind)} is the gathered asset's merged file; {names} beside it are not merged again.",
                files=(file_name(kind),),
            )
            continue
        findings.warning(
            "gather.resolve.ignored_parts",
            f"{file_name(kind)} is in the folder, so {names} are not merged into it.",
            files=tuple(names),
            hint=f"Remove {file_name(kind)} to have the parts merged, or remove the parts.",
        )
    for name in plan.legacy:
        kind = LEGACY_NAMES[name].removesuffix(".json")
        if kind in plan.exact or kind in plan.parts or (kind == "acquisition" and plan.mapped):
            findings.warning(
                "gather.resolve.legacy_name",
                f"{name} is an aind-data-schema 1.x file name and is not read ({LEGACY_NAMES[name]} is used).",
                files=(name,),
                hint=f"Remove the 1.x {name} once it is not needed.",
            )
        else:
            findings.error(
                "gather.resolve.legacy_only",
                f"{name} is aind-data-schema 1.x metadata, and the folder has no 2.x {LEGACY_NAMES[name]} "
                f"({kind}*.json): this job reads 2.x only.",
                files=(name,),
                hint=UPGRADE_HINT,
            )
    for name in plan.unused:
        findings.info("gather.resolve.unused", f"{name} is not a core metadata file; it is left alone.", files=(name,))
    for name, (kind, meant) in plan.misnamed.items():
        _misnamed(plan, findings, name, kind, meant)
    for mapper, why in plan.not_mapped.items():
        findings.info("gather.mapper.not_run", f"{why}.", files=(f"{mapper}.json",))


def _misnamed(plan: Plan, findings: Findings, name: str, kind: str, meant: str) -> None:
    """A near miss is a note when the core file itself is there; otherwise the file's content is lost."""
    core = file_name(kind)
    name_shown = repr(name) if name != name.strip() or "  " in name else name  # a space no one sees: quoted
    if kind in plan.exact:
        findings.info(
            "gather.resolve.unused",
            f"{name_shown} is not read: it looks like {meant}, but files are read by their exact name and {core} is "
            "used.",
            files=(name,),
        )
        return
    if kind in plan.parts:
        lost = f"It is left out of the {core} merged from {', '.join(plan.parts[kind])}."
    else:
        lost = f"Without {core}, {FALLBACK.get(kind, f'the asset gets no {core}')}."
    findings.warning(
        "gather.resolve.misnamed",
        f"{name_shown} looks like {meant} but is not read: the pipeline reads files by their exact name, letter "
        f"case included. {lost}",
        files=(name,),
        hint=f"Rename {name_shown} to {meant} if it is this asset's {kind.replace('_', ' ')} metadata; otherwise "
        "move it out of the metadata folder.",
    )
