"""subject.json and procedures.json beyond "the file, else the service" (docs/design.md §5).

- Calibration uploads (subject_id "calibration"): both files are built here, the service is not
  asked, and a folder's copies are replaced (the reference's rule), with a warning saying so.
- procedures.json from the folder *and* the service: the service knows the surgeries, the folder
  may add what the lab recorded by hand. Both are validated and joined with the library's `+`
  (the folder's first). A procedure found in both is refused (an error with raise_if_invalid,
  else a warning and the folder's file alone, as the reference does).
"""

from __future__ import annotations

import copy
from typing import Any

from gather_job.findings import Findings, Severity
from gather_job.pipeline import load
from gather_job.pipeline.documents import Document
from gather_job.pipeline.library_notices import capture

CALIBRATION = "calibration"
BUILT = "calibration upload's settings"


def calibration_documents(calibration_object: dict[str, Any] | None, findings: Findings) -> dict[str, Document]:
    """subject.json describing the calibration object (default: an empty one) and empty procedures."""
    from aind_data_schema.components.subjects import CalibrationObject
    from pydantic import ValidationError

    from gather_job import schema

    subject_cls, procedures_cls = schema.model_class("subject"), schema.model_class("procedures")
    given = calibration_object if calibration_object is not None else {"description": "", "empty": True}
    label = "subject.json (built: calibration)"
    docs: dict[str, Document] = {}
    details = None
    try:
        details = CalibrationObject.model_validate(copy.deepcopy(given))
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            where = load.json_path(given, tuple(error["loc"]))
            findings.error(
                "gather.schema.invalid",
                f"subject_settings.calibration_object: {where}: {error['msg']}",
                files=(label,),
                location=f"subject_settings.calibration_object.{where}".rstrip("."),
                value=error.get("input"),
                hint="Describe the calibration object as aind-data-schema's CalibrationObject "
                "(description required, optional objects).",
            )
    except load.LIBRARY_CRASHES as exc:
        findings.error(
            "gather.schema.crashed",
            f"aind-data-schema could not validate subject_settings.calibration_object: {type(exc).__name__}: {exc}.",
            files=(label,),
            location="subject_settings.calibration_object",
            hint="Describe the calibration object as aind-data-schema's CalibrationObject (description required).",
        )
    if details is None:  # written as given when raise_if_invalid is false
        docs["subject"] = Document("subject", label, data={"subject_id": CALIBRATION, "subject_details": given})
    else:
        subject = subject_cls(subject_id=CALIBRATION, subject_details=details)
        docs["subject"] = Document("subject", label, model=subject, origin={"built_from": BUILT})
    procedures = procedures_cls(subject_id=CALIBRATION)
    docs["procedures"] = Document(
        "procedures", "procedures.json (built: calibration)", model=procedures, origin={"built_from": BUILT}
    )
    return docs


def _duplicates(ours: list[Any], theirs: list[Any]) -> list[tuple[int, Any]]:
    dumped = [item.model_dump(mode="json") for item in theirs]
    return [(i, item) for i, item in enumerate(ours) if item.model_dump(mode="json") in dumped]


def _describe(procedure: Any) -> str:
    when = getattr(procedure, "start_date", None)
    return type(procedure).__name__ + (f" of {when}" if when else "")


def join_procedures(from_file: Document, from_service: Document, findings: Findings, *, refuse: bool) -> Document:
    """The folder's procedures joined with the service's; `refuse` (raise_if_invalid) makes duplicates errors."""
    mine, theirs = from_file.model, from_service.model
    labels = (from_file.label, from_service.label)
    duplicates = [
        (f"{field}[{i}]", item)
        for field in ("subject_procedures", "specimen_procedures")
        for i, item in _duplicates(getattr(mine, field) or [], getattr(theirs, field) or [])
    ]
    if duplicates:
        listed = ", ".join(f"{where} ({_describe(item)})" for where, item in duplicates)
        findings.add(
            "gather.procedures.duplicate",
            Severity.error if refuse else Severity.warning,
            f"{from_file.label} repeats {len(duplicates)} procedure(s) the metadata service already has: {listed}"
            + ("." if refuse else "; the folder's procedures.json is used alone, the service's are left out."),
            files=(from_file.label,),
            location=duplicates[0][0],
            value=[where for where, _ in duplicates],
            hint="Keep in procedures.json only what the service does not know (the service's procedures are "
            "added at upload), or remove the file to use the service's alone.",
        )
        return from_file
    with capture(findings, labels, "joining the procedures"):
        try:
            joined = mine + theirs
        except (ValueError, TypeError, AttributeError) as exc:
            findings.error(
                "gather.procedures.not_joined",
                f"aind-data-schema could not join {from_file.label} with the service's procedures: {exc}",
                files=labels,
                hint="Make subject_id and the coordinate systems of both agree.",
            )
            return from_file
    origin = {
        "from": "merged",
        "parts": [from_file.origin.get("file", from_file.label)],
        "service": [from_service.origin.get("url")],
    }
    return Document("procedures", "procedures.json (the folder's and the service's)", model=joined, origin=origin)
