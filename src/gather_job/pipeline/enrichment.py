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

The service's answers are checked before anything is filled from them, since the acquisition is
uploaded with whatever lands here: a record that names another subject (Waterlog's `mouse_id`,
LabTracks' `id`), a weight that is not a finite positive number, a weighing without a readable,
offset-carrying time on the acquisition's day, a protocol number that is not a plain string or integer,
or LabTracks records naming different protocols: each is a warning naming the URL, and nothing is
filled from that answer. What is filled is validated for its field by the library's own annotation
(`model_copy(update=...)` and attribute assignment validate nothing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Annotated, Any

from pydantic import TypeAdapter, ValidationError

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


@dataclass
class _Records:
    """One Waterlog answer, sorted: usable weighings, records that cannot be read (with their time when
    it can be read, to tell whether they fall on the acquisition's day) and other subjects' ids."""

    usable: list[Weighing] = field(default_factory=list)
    unreadable: list[tuple[datetime | None, str]] = field(default_factory=list)
    others: list[str] = field(default_factory=list)


def _shown(value: Any) -> str:
    """A service value as a finding quotes it: repr, cut short (a record may hold anything)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def grams_of(value: Any) -> Decimal | None:
    """A weight as a finite positive Decimal, or None. A string the service may send for a Decimal
    ("23.1") is read; "23.1g", booleans, 0, -5 and numbers past a double's range (1E+400, which every
    JSON reader of the upload would take as infinity or zero) are not."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        return None
    try:
        grams = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):  # ValueError: an integer past str()'s digit limit
        return None
    if not grams.is_finite() or grams <= 0:
        return None
    as_double = float(grams)
    return grams if math.isfinite(as_double) and as_double > 0 else None


def _aware(stamp: Any) -> datetime | None:
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00")) if isinstance(stamp, str) else None
    except ValueError:
        return None
    return when if when is not None and when.tzinfo is not None else None


def _weighings(body: list[Any], subject_id: str) -> _Records:
    records = _Records()
    for record in body:
        if not isinstance(record, dict):
            records.unreadable.append((None, f"record {_shown(record)}"))
            continue
        owner = record.get("mouse_id")
        if owner is not None and str(owner) != subject_id:
            records.others.append(str(owner))
            continue
        if record.get("weight") is None:
            continue  # not a weighing
        stamp = record.get("weight_datetime")
        when, grams = _aware(stamp), grams_of(record["weight"])
        if grams is None:
            records.unreadable.append((when, f"weight {_shown(record['weight'])} at {_shown(stamp)}"))
            continue
        if when is None:
            records.unreadable.append((None, f"weight_datetime {_shown(stamp)} (a time with its UTC offset)"))
            continue
        records.usable.append(Weighing(grams, when, str(stamp)))
    return records


def nearest(weighings: list[Weighing], start_time: datetime) -> tuple[Weighing | None, Weighing | None]:
    """The latest weighing at or before the start and the earliest after it, on the start's own day."""
    day = start_time.date()
    same_day = [w for w in weighings if w.when.astimezone(start_time.tzinfo).date() == day]
    prior = max((w for w in same_day if w.when <= start_time), key=lambda w: w.when, default=None)
    post = min((w for w in same_day if w.when > start_time), key=lambda w: w.when, default=None)
    return prior, post  # max and min keep the first of equal times, as the reference does


@cache
def _adapter(model_class: Any, name: str) -> TypeAdapter[Any]:
    """The library's own annotation and constraints of one field, to validate a value put there."""
    info = model_class.model_fields[name]
    return TypeAdapter(Annotated[info.annotation, info])


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

    def _refuse(self, id: str, wanted: str, url: str, why: str, value: Any = None) -> None:
        """The answer was there but cannot be trusted: say so, with the URL, and fill nothing from it."""
        self.findings.warning(
            id,
            f"{wanted} was not filled from {url}: {why}.",
            files=(self.doc.label,),
            location=wanted.split(" and ")[0],
            value=value,
            hint=f"Check {wanted} in the acquisition by hand, and report the records to the service's maintainers.",
        )

    def _checked(self, model_class: Any, name: str, value: Any, url: str) -> Any:
        """`value` as the field's type validates it, or None (a warning) when the library refuses it."""
        try:
            return _adapter(model_class, name).validate_python(value)
        except ValidationError as exc:
            why = f"{_shown(value)} is not a valid {name} ({exc.errors()[0]['msg']})"
            self._refuse("gather.enrichment.unusable", name, url, why)
            return None

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

    def _usable_weighings(self, url: str, answer: Answer) -> list[Weighing] | None:
        """The answer's weighings of this subject, or None (a warning) when the answer cannot be trusted."""
        wanted, start = "animal_weight_prior and animal_weight_post", self.model.acquisition_start_time
        body = answer.body if answer.status == 200 else []
        if not isinstance(body, list):
            self._refuse("gather.enrichment.unusable", wanted, url, f"Waterlog answered {_shown(body)}, not a list")
            return None
        records = _weighings(body, self.subject_id)
        if records.others:
            others = sorted(set(records.others))
            why = f"Waterlog's answer for subject {self.subject_id!r} holds weighings of mouse_id {', '.join(others)}"
            self._refuse("gather.enrichment.other_subject", wanted, url, why, others)
            return None
        day = start.date()
        on_day = [
            what for when, what in records.unreadable if when is None or when.astimezone(start.tzinfo).date() == day
        ]
        if on_day:
            why = (
                f"Waterlog has {len(on_day)} record(s) that may be of the acquisition's day but cannot be read "
                f"({'; '.join(on_day[:3])}): a weight must be a positive number of grams, its time carry a UTC offset"
            )
            self._refuse("gather.enrichment.unusable", wanted, url, why, on_day[:3])
            return None
        return records.usable

    def weights(self) -> None:
        got = self._lookup(WEIGHTS, "animal_weight_prior and animal_weight_post", "Waterlog")
        if got is None:
            return
        url, answer = got
        usable = self._usable_weighings(url, answer)
        if usable is None:
            return
        prior, post = nearest(usable, self.model.acquisition_start_time)
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
        for name, weighing in (("animal_weight_prior", prior), ("animal_weight_post", post)):
            if weighing is None:
                continue
            clash = sorted({str(w.grams) for w in usable if w.when == weighing.when and w.grams != weighing.grams})
            if clash:
                why = f"Waterlog gives {weighing.grams} g and {', '.join(clash)} g at the same time {weighing.shown}"
                self._refuse("gather.enrichment.contradictory", name, url, why, [str(weighing.grams), *clash])
                continue
            converted = weighing.grams if unit == "gram" else (weighing.grams / GRAMS_PER[unit]).normalize()
            value = self._checked(type(details), name, converted, url)
            current = getattr(details, name)
            equal = value is not None and current is not None and Decimal(str(current)) == value
            if value is not None and self._keep_or_replace(name, current, value, equal, f"Waterlog ({weighing.shown})"):
                update[name] = value
                self.filled.append(f"subject_details.{name} {value} {unit} (Waterlog {weighing.shown})")
        if update:
            self.model.subject_details = details.model_copy(update=update)
            self.doc.origin.setdefault("enriched", {}).update(dict.fromkeys(update, url))

    def _protocol(self, url: str, answer: Answer) -> str | None:
        """The one IACUC protocol LabTracks gives for this subject; None (a note or a warning) otherwise."""
        wanted = "ethics_review_id"
        body = answer.body if answer.status == 200 else []
        records = body if isinstance(body, list) else [body]
        others = sorted(
            {str(r["id"]) for r in records if isinstance(r, dict) and r.get("id") is not None} - {self.subject_id}
        )
        if others:
            why = f"LabTracks' answer for subject {self.subject_id!r} holds the records of {', '.join(others)}"
            self._refuse("gather.enrichment.other_subject", wanted, url, why, others)
            return None
        protocols: list[str] = []
        unreadable: list[str] = []
        for record in records:
            number = record.get("protocol_number") if isinstance(record, dict) else None
            if not isinstance(record, dict):
                unreadable.append(f"record {_shown(record)}")
            elif isinstance(number, bool) or not isinstance(number, (str, int, type(None))):
                unreadable.append(f"protocol_number {_shown(number)}")
            elif number not in (None, 0) and str(number).strip():
                protocols.append(str(number).strip())
        if unreadable:
            shown = "; ".join(unreadable[:3])
            why = f"LabTracks' record(s) cannot be read ({shown}): a protocol number is a string or an integer"
            self._refuse("gather.enrichment.unusable", wanted, url, why, unreadable[:3])
            return None
        distinct = list(dict.fromkeys(protocols))
        if len(distinct) > 1:
            why = f"LabTracks' records for subject {self.subject_id!r} name different protocols: {', '.join(distinct)}"
            self._refuse("gather.enrichment.contradictory", wanted, url, why, distinct)
            return None
        if not distinct:
            self.findings.info(
                "gather.enrichment.nothing_found",
                f"LabTracks gives no IACUC protocol for subject {self.subject_id!r}; ethics_review_id is as "
                "the acquisition gives it.",
                files=(self.doc.label,),
            )
            return None
        return distinct[0]

    def ethics_review(self) -> None:
        got = self._lookup(LABTRACKS, "ethics_review_id", "LabTracks")
        if got is None:
            return
        url, answer = got
        protocol = self._protocol(url, answer)
        fetched = self._checked(type(self.model), "ethics_review_id", [protocol], url) if protocol else None
        if fetched is None:
            return
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
