"""An acquisition of a specimen names one the procedures describe.

aind-data-schema checks that a specimen_id extends the subject_id, in the acquisition and in the
procedures each; it never compares the two files. An acquisition naming a specimen that no specimen
procedure names (a typo, a section number off by one) validates everywhere, and the asset then
describes the preparation of one specimen and the imaging of another. A warning: procedures may
lag behind the acquisition, but the reader should know.
"""

from __future__ import annotations

from typing import Any

from gather_job.findings import Findings


def _listed(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def described(procedures: Any) -> set[str]:
    """Every specimen the procedures name: those procedures were done on, and the ones sectioning made."""
    names: set[str] = set()
    for procedure in getattr(procedures, "specimen_procedures", None) or []:
        names.update(_listed(getattr(procedure, "specimen_id", None)))
        for step in getattr(procedure, "procedure_details", None) or []:
            for section in getattr(step, "sections", None) or []:
                names.update(_listed(getattr(section, "output_specimen_id", None)))
    return names


def check_specimens(acquisition: Any, procedures: Any, labels: dict[str, str], findings: Findings) -> None:
    named = _listed(getattr(acquisition, "specimen_id", None))
    known = described(procedures)
    if not named or not known:
        return  # no specimen, or procedures that describe none: nothing to compare
    unknown = [name for name in named if name not in known]
    if not unknown:
        return
    acq_label = labels.get("acquisition", "acquisition.json")
    proc_label = labels.get("procedures", "procedures.json")
    findings.warning(
        "gather.specimen.unknown",
        f"{acq_label} names specimen {', '.join(repr(n) for n in unknown)}, which no specimen procedure in "
        f"{proc_label} names (they name {', '.join(repr(n) for n in sorted(known))}).",
        files=(acq_label, proc_label),
        location="specimen_id",
        value=unknown[0] if len(unknown) == 1 else unknown,
        hint=f"Correct specimen_id in {acq_label}, or add the specimen's procedures to {proc_label}.",
    )
