"""Rig mappers: a rig's own file (`fip.json`) becomes an acquisition part, with the reference's code.

The reference registers one mapper, `fip` (aind-metadata-mapper's FIPMapper). When the folder has
`fip.json` and no `acquisition.json`, the mapper turns it into the part `acquisition_fip.json`,
merged with the other acquisition parts. The mapper's code is aind-metadata-mapper's own, an
optional extra (`pip install 'gather-job[mappers]'`); without it such a file is a finding naming the
extra. Unlike the reference, nothing is written into the input folder: the mapper's `transform` runs
in memory, fed with this job's procedures and the service at the configured URL (the reference's
mapper asks a hard-coded host). `raise_if_mapper_errors` makes a mapper problem an error, else a
warning and the job goes on without that part.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from gather_job.findings import Findings, Severity
from gather_job.pipeline.documents import Document
from gather_job.pipeline.library_notices import capture

REGISTRY = {"fip": "aind_metadata_mapper.fip.mapper"}  # mapper name -> module holding its class
EXTRA = "pip install 'gather-job[mappers]'"
INTENDED_MEASUREMENTS = "intended_measurements"  # the FIP mapper's endpoint: {base}/intended_measurements/{id}


def input_name(mapper: str) -> str:
    return f"{mapper}.json"


def part_name(mapper: str) -> str:
    return f"acquisition_{mapper}.json"


def available() -> bool:
    """Whether the extra is installed (its package's __init__ is tiny; the mapper loads only when run)."""
    try:
        importlib.import_module("aind_metadata_mapper")
    except ImportError:
        return False
    return True


def subject_of(mapper: str, data: Mapping[str, Any]) -> str | None:
    """The subject a mapper's input describes (fip.json: session.subject)."""
    session = data.get("session")
    subject = session.get("subject") if isinstance(session, Mapping) else None
    return str(subject) if subject else None


def run(
    mapper: str,
    data: Mapping[str, Any],
    *,
    subject_id: str | None,
    procedures: Mapping[str, Any] | None,
    intended_measurements: Any,
    findings: Findings,
    strict: bool,
) -> Document | None:
    """The mapper's acquisition as a part, or None with a finding (an error when `strict`)."""
    name, label = input_name(mapper), part_name(mapper)
    severity = Severity.error if strict else Severity.warning
    if not available():
        findings.add(
            "gather.mapper.unavailable",
            severity,
            f"{name} needs aind-metadata-mapper's {mapper} mapper to become {label}, and it is not installed.",
            files=(name,),
            hint=f"Install the extra ({EXTRA}), or put the acquisition in the folder as {label}.",
        )
        return None
    module = importlib.import_module(REGISTRY[mapper])
    instance = module.FIPMapper()
    with capture(findings, (name,), f"running the {mapper} mapper", logger_name="aind_metadata_mapper"):
        try:
            # never None: the mapper would fetch what is missing from its hard-coded host
            implanted, _ = instance._parse_implanted_fibers(subject_id or "", data=dict(procedures or {}))
            intended = instance._parse_intended_measurements(subject_id or "", data=intended_measurements or {})
            acquisition = instance.transform(
                dict(data), intended_measurements=intended or {}, implanted_fibers=implanted or []
            )
        except Exception as exc:
            findings.add(
                "gather.mapper.failed",
                severity,
                f"The {mapper} mapper could not turn {name} into {label}: {type(exc).__name__}: {exc}",
                files=(name,),
                hint="Check the file against the rig's schema, and that procedures list the implanted fibers "
                "(Fiber_0, Fiber_1, ...)." + ("" if strict else " The acquisition was gathered without it."),
            )
            return None
    return Document("acquisition", label, model=acquisition, origin={"from": "mapped", "file": name, "mapper": mapper})
