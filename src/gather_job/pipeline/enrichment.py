"""Filling acquisition.json from the service, as the reference does (docs/design.md §5, enrichment).

- `subject_details.animal_weight_prior` / `animal_weight_post` from Waterlog's weight records
  (`{weights endpoint}/{subject_id}?acquisition_datetime=<the rig's wall clock, to the second>`):
  of the records on the acquisition's own calendar day, the latest at or before the start and the
  earliest after it (the first one wins a tie). Waterlog weighs in grams; the values are converted
  to the acquisition's `weight_unit`.
- `ethics_review_id` from the LabTracks subject's IACUC protocol (`{labtracks endpoint}?subject_id=`).

Values already in the acquisition win unless `replace_existing`; a disagreement is a warning. A
lookup that fails is a warning naming what was not filled, never a silent gap. The requests are
started with the others (`start`) and read only here (`apply`), on the final acquisition.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from gather_job.errors import ServiceError
from gather_job.findings import Findings
from gather_job.pipeline.documents import Document
from gather_job.pipeline.lookups import Lookups
from gather_job.service import Answer

WEIGHTS, LABTRACKS = "weights", "labtracks"
GRAMS_PER = {"kilogram": Decimal(1000), "gram": Decimal(1), "milligram": Decimal("0.001")}
GRAMS_PER |= {"microgram": Decimal("0.000001"), "nanogram": Decimal("0.000000001")}


def query_time(wall_clock: datetime) -> str:
    """The acquisition start as the rig's clock showed it, to the second, as the service expects it."""
    return wall_clock.replace(tzinfo=None, microsecond=0).isoformat(timespec="seconds")


def start(lookups: Lookups, subject_id: str, wall_clock: datetime | None) -> None:
    lookups.start(LABTRACKS, "", {"subject_id": subject_id})
    if wall_clock is not None:
        lookups.start(WEIGHTS, subject_id, {"acquisition_datetime": query_time(wall_clock)})


@dataclass(frozen=True)
class Weighing:
    grams: Decimal
    when: datetime
    shown: str


def _weighings(body: Any) -> list[Weighing]:
    found = []
    for record in body if isinstance(body, list) else []:
        if not isinstance(record, dict) or record.get("weight") is None:
            continue
        stamp = record.get("weight_datetime")
        try:
            when = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
            grams = Decimal(str(record["weight"]))
        except (ValueError, InvalidOperation):
            continue
        if when.tzinfo is not None and grams.is_finite():
            found.append(Weighing(grams, when, str(stamp)))
    return found


def nearest(weighings: list[Weighing], start_time: datetime) -> tuple[Weighing | None, Weighing | None]:
    """The latest weighing at or before the start and the earliest after it, on the start's own day."""
    day = start_time.date()
    same_day = [w for w in weighings if w.when.astimezone(start_time.tzinfo).date() == day]
    prior = max((w for w in same_day if w.when <= start_time), key=lambda w: w.when, default=None)
    post = min((w for w in same_day if w.when > start_time), key=lambda w: w.when, default=None)
    return prior, post  # max and min keep the first of equal times, as the reference does


class _Enricher:
    def __init__(self, doc: Document, subject_id: str, lookups: Lookups, replace: bool, findings: Findings) -> None:
        self.doc, self.model = doc, doc.model
        self.subject_id, self.lookups, self.replace, self.findings = subject_id, lookups, replace, findings
        self.filled: list[str] = []

    def _lookup(self, name: str, wanted: str, source: str) -> tuple[str, Answer] | None:
        got = self.lookups.outcome(name)
        if got is None:
            return None
        _, url, answer = got
        if isinstance(answer, ServiceError) or answer.status not in (200, 404):
            reason = answer.message if isinstance(answer, ServiceError) else f"HTTP {answer.status} {answer.detail}"
            self.findings.warning(
                "gather.enrichment.lookup_failed",
                f"{wanted} was not filled from {source}: the lookup for subject {self.subject_id!r} failed ({reason}).",
                files=(self.doc.label,),
                location=wanted.split(" and ")[0],
                hint=f"Check {wanted} in the acquisition by hand, or run the job again when the service answers.",
            )
            return None
        return url, answer

    def _keep_or_replace(self, field: str, current: Any, fetched: Any, equal: bool, source: str) -> bool:
        if current is None or current == [] or self.replace:
            return True
        if not equal:
            self.findings.warning(
                "gather.enrichment.disagrees",
                f"{field} is {current!r} in {self.doc.label} but {fetched!r} in {source}; "
                "the acquisition's value is kept.",
                files=(self.doc.label,),
                location=field,
                value=str(fetched),
                hint="Check which is right; set enrichment_settings.replace_existing to take the service's.",
            )
        return False

    def weights(self) -> None:
        got = self._lookup(WEIGHTS, "animal_weight_prior and animal_weight_post", "Waterlog")
        if got is None:
            return
        url, answer = got
        prior, post = nearest(_weighings(answer.body), self.model.acquisition_start_time)
        if prior is None and post is None:
            self.findings.info(
                "gather.enrichment.nothing_found",
                f"Waterlog has no weighing of subject {self.subject_id!r} on the acquisition's day; "
                "animal_weight_prior and animal_weight_post are as the acquisition gives them.",
                files=(self.doc.label,),
            )
            return
        details = self.model.subject_details
        if details is None:
            found = ", ".join(f"{w.grams} g at {w.shown}" for w in (prior, post) if w is not None)
            self.findings.warning(
                "gather.enrichment.not_filled",
                f"Waterlog has weights for subject {self.subject_id!r} ({found}), but {self.doc.label} has no "
                "subject_details to put them in.",
                files=(self.doc.label,),
                location="subject_details",
                hint="Add subject_details (with mouse_platform_name) to the acquisition.",
            )
            return
        unit = str(getattr(details.weight_unit, "value", details.weight_unit))
        update: dict[str, Any] = {}
        for field, weighing in (("animal_weight_prior", prior), ("animal_weight_post", post)):
            if weighing is None:
                continue
            value = weighing.grams if unit == "gram" else (weighing.grams / GRAMS_PER[unit]).normalize()
            current = getattr(details, field)
            equal = current is not None and Decimal(str(current)) == value
            if self._keep_or_replace(field, current, value, equal, f"Waterlog ({weighing.shown})"):
                update[field] = value
                self.filled.append(f"subject_details.{field} {value} {unit} (Waterlog {weighing.shown})")
        if update:
            self.model.subject_details = details.model_copy(update=update)
            self.doc.origin.setdefault("enriched", {}).update(dict.fromkeys(update, url))

    def ethics_review(self) -> None:
        got = self._lookup(LABTRACKS, "ethics_review_id", "LabTracks")
        if got is None:
            return
        url, answer = got
        records = answer.body if isinstance(answer.body, list) else [answer.body]
        first = records[0] if records and isinstance(records[0], dict) else {}
        protocol = first.get("protocol_number")
        if answer.status == 404 or protocol in (None, "", 0):
            self.findings.info(
                "gather.enrichment.nothing_found",
                f"LabTracks gives no IACUC protocol for subject {self.subject_id!r}; ethics_review_id is as "
                "the acquisition gives it.",
                files=(self.doc.label,),
            )
            return
        fetched = [str(protocol)]
        current = self.model.ethics_review_id
        equal = current is not None and set(current) == set(fetched)
        if self._keep_or_replace("ethics_review_id", current, fetched, equal, "LabTracks"):
            self.model.ethics_review_id = fetched
            self.filled.append(f"ethics_review_id {fetched} (LabTracks)")
            self.doc.origin.setdefault("enriched", {})["ethics_review_id"] = url


def apply(doc: Document, subject_id: str, lookups: Lookups, replace_existing: bool, findings: Findings) -> None:
    """Fill the (validated) acquisition from the answers; report what was filled and what was not."""
    enricher = _Enricher(doc, subject_id, lookups, replace_existing, findings)
    enricher.weights()
    enricher.ethics_review()
    if enricher.filled:
        findings.info(
            "gather.enrichment.filled",
            "Filled from the metadata service: " + "; ".join(enricher.filled) + ".",
            files=(doc.label,),
        )
