"""What the metadata service's answers mean for the asset (docs/design.md §8).

The client (`service.py`) only knows HTTP; here a 404 becomes "no such subject", a 406 "the project
has subprojects", a 400 instrument list the newest exact-id record. Each becomes a Document to
validate or a finding that quotes the service.
"""

from __future__ import annotations

from typing import Any

from gather_job.findings import Findings, Severity
from gather_job.pipeline.data_description import Listing, dedupe_people
from gather_job.pipeline.documents import Document
from gather_job.pipeline.lookups import Lookups
from gather_job.service import Answer


def document(kind: str, key: str, answer: Answer, findings: Findings, *, required: bool) -> Document | None:
    """A subject or procedures answer as a Document to validate, or None with a finding."""
    label = f"{kind}.json (service: {answer.url})"
    if answer.status in (200, 400):
        if answer.status == 400:
            findings.warning(
                "gather.service.unvalidated",
                f"The metadata service says its {kind} record for {key!r} failed its own validation: "
                f"{answer.error_message or answer.detail}.",
                files=(label,),
                hint="The record is used as it is; the findings below say what is wrong with it.",
            )
        if not isinstance(answer.body, dict):
            findings.error(
                "gather.service.bad_answer",
                f"The metadata service sent a JSON {type(answer.body).__name__} for {kind} {key!r}, not an object.",
                files=(label,),
            )
            return None
        return Document(kind=kind, label=label, data=answer.body, origin={"from": "service", "url": answer.url})
    if answer.status == 404:
        findings.add(
            "gather.service.not_found",
            Severity.error if required else Severity.warning,
            f"The metadata service has no {kind} for subject {key!r} ({answer.detail}).",
            files=(f"{kind}.json",),
            value=key,
            hint=f"Check subject_id, or put a {kind}.json in the metadata folder.",
        )
        return None
    findings.error(
        "gather.service.rejected",
        f"The metadata service refused {kind} for subject {key!r}: {answer.detail}.",
        files=(f"{kind}.json",),
        value=key,
        hint=f"Subject ids are numeric LabTracks ids; or put a {kind}.json in the metadata folder.",
    )
    return None


def listing_for(
    what: str,
    given: list[dict[str, Any]] | None,
    lookups: Lookups,
    unchecked: set[str],
    findings: Findings,
    *,
    at_desk: bool,
) -> Listing:
    """Funding or investigators: the settings' own, else the service's answer, else why there is none."""
    if given is not None:
        return Listing(given, "data_description_settings")
    got = lookups.answer(what)
    if got is None and at_desk:
        unchecked.add(what)
        findings.info(
            "gather.resolve.not_checked",
            f"data_description_settings has no {what}: at upload they come from the metadata service "
            "(not checked offline).",
            files=("data_description.json",),
            location="funding_source" if what == "funding" else what,
        )
        return Listing(None, "not checked offline", unseen=True)
    if got is None:
        reason = "the job is offline" if not lookups.online else "no project_name is set"
        return Listing(None, f"{reason}, and data_description_settings has no {what}")
    key, answer = got
    return listing(what, key, answer)


def listing(what: str, project: str, answer: Answer) -> Listing:
    """Funding or investigators from an answer; an empty Listing's origin says what the service said."""
    if answer.status == 200 and not isinstance(answer.body, list):
        shown = "null" if answer.body is None else type(answer.body).__name__.replace("dict", "object")
        return Listing(None, f"the metadata service sent a JSON {shown} for {what}, not a list ({answer.url})")
    if answer.status == 200 and isinstance(answer.body, list):
        items = [item for item in answer.body if isinstance(item, dict)]
        if what == "investigators":
            items = dedupe_people(items)
        origin = f"the metadata service returned an empty list ({answer.url})"
        return Listing(items or None, origin if not items else f"service: {answer.url}")
    return Listing(None, f"the metadata service answered {answer.status} {answer.detail!r} ({answer.url})")


def instrument_record(instrument_id: str, answer: Answer, findings: Findings) -> Document | None:
    """The newest stored record with exactly this id; the service answers 400 with a list of them."""
    label = f"instrument {instrument_id} (service: {answer.url})"
    if answer.status == 404:
        findings.error(
            "gather.service.not_found",
            f"The metadata service has no instrument {instrument_id!r} ({answer.detail}).",
            files=(label,),
            location="instrument_settings.instrument_id",
            value=instrument_id,
            hint="Check instrument_settings.instrument_id, or put the instrument's JSON in the folder.",
        )
        return None
    if answer.status not in (200, 400):
        findings.error(
            "gather.service.rejected",
            f"The metadata service refused instrument {instrument_id!r}: {answer.detail}.",
            files=(label,),
            location="instrument_settings.instrument_id",
        )
        return None
    records = answer.body if isinstance(answer.body, list) else [answer.body]
    exact = [r for r in records if isinstance(r, dict) and r.get("instrument_id") == instrument_id]
    if not exact:
        others = sorted({str(r.get("instrument_id")) for r in records if isinstance(r, dict)})
        findings.error(
            "gather.service.no_exact_instrument",
            f"The metadata service has no record whose instrument_id is exactly {instrument_id!r}"
            + (f" (it has {others})." if others else "."),
            files=(label,),
            location="instrument_settings.instrument_id",
            value=instrument_id,
            hint="Use one of the ids it has, exactly as written.",
        )
        return None
    newest = max(exact, key=lambda r: str(r.get("modification_date") or ""))
    return Document(
        kind="instrument",
        label=label,
        data=newest,
        origin={"from": "service", "url": answer.url, "modification_date": newest.get("modification_date")},
    )


def ambiguous_subject(
    subject_id: str,
    url: str,
    failure: Exception,
    labtracks: tuple[str, str, Answer | Exception] | None,
    findings: Findings,
) -> bool:
    """A subject 500 is the service's answer to several LabTracks records for one id: a data problem.

    LabTracks' own endpoint lists the records; when it shows more than one, the 500 becomes an
    error finding about the data (True); otherwise it stays an outage (False: exit 4).
    """
    if getattr(failure, "status", None) != 500 or labtracks is None or not isinstance(labtracks[2], Answer):
        return False
    answer = labtracks[2]
    records = [r for r in answer.body if isinstance(r, dict)] if isinstance(answer.body, list) else []
    if answer.status != 200 or len(records) < 2:
        return False
    shown = "; ".join(
        ", ".join(f"{k} {r[k]}" for k in ("id", "sex", "birth_date", "group_name") if r.get(k)) for r in records[:5]
    )
    findings.error(
        "gather.service.ambiguous_subject",
        f"LabTracks has {len(records)} records for subject {subject_id!r} ({shown}), so the metadata service "
        f"cannot build its subject.json (it answered HTTP 500 for {url}).",
        files=("subject.json",),
        value=subject_id,
        hint="Ask the colony managers to merge or retire the duplicate LabTracks records, or put this "
        "subject's subject.json in the metadata folder.",
    )
    return True


def instrument_offline(instrument_id: str, at_desk: bool, unchecked: set[str], findings: Findings) -> None:
    """An instrument_id with no service to ask: at a desk the service gives it at upload (the checks that
    need it wait, as for a subject); a run writes the asset without it, which it says."""
    if at_desk:
        unchecked.add("instrument")
        findings.info(
            "gather.resolve.not_checked",
            f"Instrument {instrument_id!r} (instrument_settings.instrument_id) comes from the metadata service "
            "at upload (not checked offline).",
            files=("instrument.json",),
            location="instrument_settings.instrument_id",
        )
        return
    findings.warning(
        "gather.service.offline",
        f"Offline: instrument {instrument_id!r} was not fetched from the metadata service.",
        location="instrument_settings.instrument_id",
        hint="Put the instrument's JSON in the folder, or run with the service.",
    )
