"""Building data_description.json from the settings plus funding and investigators.

creation_time is the acquisition start, so the asset name is `{subject_id}_{YYYY-MM-DD_HH-MM-SS}` in
the acquisition's own offset and a re-run gives the same bytes (the reference stamps `now()`).
Empty funding or investigators become findings that say which project and what the service said,
instead of pydantic's bare "list too short".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from gather_job import schema
from gather_job.findings import Findings
from gather_job.pipeline.documents import Document
from gather_job.pipeline.library_notices import capture
from gather_job.pipeline.load import LIBRARY_CRASHES, json_path
from gather_job.settings.model import JobSettings

LABEL = "data_description.json (built)"


@dataclass(frozen=True)
class Listing:
    """Funding or investigators, and where they came from (for messages when empty).

    `unseen`: `check` offline, where the service gives them at upload; a stand-in lets the rest of
    data_description be checked, and nothing is written.
    """

    items: list[dict[str, Any]] | None
    origin: str
    unseen: bool = False


STAND_INS = {
    "funding_source": [{"funder": {"name": "Allen Institute", "abbreviation": "AI"}}],
    "investigators": [{"name": "(from the metadata service at upload)"}],
}


def dedupe_people(people: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Unique by name, sorted by name: what the reference does with the service's investigators.

    A record whose name is no text (a number, a list: a broken answer) is kept after them, unsorted, so
    validation names it rather than the sort failing (exit 1) or the record vanishing."""
    seen: dict[str, dict[str, Any]] = {}
    odd: list[dict[str, Any]] = []
    for person in people:
        name = person.get("name") if isinstance(person, dict) else None
        if not isinstance(name, str):
            odd.append(person)
        elif name and name not in seen:
            seen[name] = person
    return [seen[name] for name in sorted(seen)] + odd


def aware_start(start: datetime, findings: Findings) -> datetime:
    """A naive start (wall-clock, no acquisition.json to take the offset from) is written as UTC."""
    if start.tzinfo is not None:
        return start
    findings.warning(
        "gather.time.naive_start",
        f"acquisition_start_time {start.isoformat()} has no UTC offset and no acquisition.json gives one; "
        f"creation_time is written as {start.replace(tzinfo=UTC).isoformat().replace('+00:00', 'Z')} "
        "(the name keeps the wall-clock).",
        location="acquisition_start_time",
        value=start.isoformat(),
        hint="Add the rig's offset to the setting, e.g. 2023-04-03T18:17:07-07:00.",
    )
    return start.replace(tzinfo=UTC)


def build(
    settings: JobSettings,
    subject_id: str | None,
    start: datetime | None,
    funding: Listing,
    investigators: Listing,
    findings: Findings,
) -> Document:
    """The data_description Document: a validated model, or the unvalidated fields with findings."""
    dd = settings.data_description_settings
    doc = Document(kind="data_description", label=LABEL, origin={"built_from": "settings"})
    missing = [name for name, value in (("project_name", dd.project_name), ("modalities", dd.modalities)) if not value]
    if subject_id is None:
        missing.append("subject_id")
    if start is None:
        missing.append("acquisition_start_time")
    if missing:
        findings.error(
            "gather.data_description.missing_settings",
            f"data_description.json cannot be built: {', '.join(missing)} not given "
            "(no data_description.json in the folder either).",
            files=(LABEL,),
            location=", ".join(
                f"data_description_settings.{m}" if m in ("project_name", "modalities") else m for m in missing
            ),
            hint="Add them to the settings, or put a data_description.json in the metadata folder.",
        )
        return doc
    assert start is not None
    for listing, field in ((funding, "funding_source"), (investigators, "investigators")):
        if listing.unseen:
            continue
        if not listing.items:
            findings.error(
                f"gather.data_description.no_{'funding' if field == 'funding_source' else 'investigators'}",
                f"No {field} for project '{dd.project_name}': {listing.origin}.",
                files=(LABEL,),
                location=field,
                value=dd.project_name,
                hint=f"Check data_description_settings.project_name, or give data_description_settings.{field} "
                "in the settings.",
            )
    from aind_data_schema_models.modalities import Modality
    from aind_data_schema_models.organizations import Organization

    fields: dict[str, Any] = {
        "subject_id": subject_id,
        "creation_time": aware_start(start, findings),
        "institution": Organization.from_abbreviation(dd.institution) or Organization.from_name(dd.institution),
        "funding_source": STAND_INS["funding_source"] if funding.unseen else funding.items or [],
        "data_level": "raw",
        "group": dd.group,
        "investigators": STAND_INS["investigators"] if investigators.unseen else investigators.items or [],
        "project_name": dd.project_name,
        "restrictions": dd.restrictions,
        "modalities": [Modality.from_abbreviation(m) for m in dd.modalities],
        "data_summary": dd.data_summary,
        # a calibration's subject: say so in the tags, which aind-data-schema otherwise adds only in memory
        "tags": [*(dd.tags or []), "calibration"]
        if subject_id == "calibration" and "calibration" not in (dd.tags or [])
        else dd.tags,
    }
    doc.data = fields
    cls = schema.model_class("data_description")
    with capture(findings, (LABEL,), "building data_description.json"):
        try:
            doc.model = cls.model_validate(fields)
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                where = json_path(fields, tuple(error["loc"]))
                if where in ("funding_source", "investigators") and error["type"] == "too_short":
                    continue  # reported above with the project and the service's answer
                findings.error(
                    "gather.schema.invalid",
                    f"{LABEL}: {where}: {str(error['msg']).removeprefix('Value error, ')}",
                    files=(LABEL,),
                    location=where,
                    value=error.get("input"),
                    hint="The value comes from data_description_settings (or the service's funding/investigators).",
                )
        except LIBRARY_CRASHES as exc:
            findings.error(
                "gather.schema.crashed",
                f"aind-data-schema could not validate {LABEL}: {type(exc).__name__}: {exc}.",
                files=(LABEL,),
                hint="Some value of data_description_settings (or of the service's funding/investigators) has an "
                "unexpected shape; compare it with the schema.",
            )
    if doc.model is None:
        doc.data = _unvalidated(fields)
    return doc


def _jsonable(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    return value


def _unvalidated(fields: dict[str, Any]) -> dict[str, Any]:
    """What is written with raise_if_invalid=false: the fields as given, plus the derived name."""
    from aind_data_schema_models.data_name_patterns import build_data_name

    data = {"object_type": "Data description", **{key: _jsonable(value) for key, value in fields.items()}}
    if fields.get("subject_id") and isinstance(fields.get("creation_time"), datetime):
        data["name"] = build_data_name(fields["subject_id"], fields["creation_time"])
    return data
