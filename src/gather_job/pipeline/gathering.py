"""The state of one gather and its stages, in the order `gather.gather` runs them (docs/design.md §5).

Every stage appends findings and documents to one `Gathered`; service requests start as soon as
their keys are known (`Lookups`) and are read only when a stage needs the answer.
"""

from __future__ import annotations

import copy
import hashlib
from datetime import UTC, datetime
from typing import Any

from gather_job import schema
from gather_job.errors import ServiceError
from gather_job.findings import Findings, Severity
from gather_job.pipeline import (
    data_description,
    enrichment,
    load,
    mappers,
    merge,
    plan,
    rig_time,
    service_answers,
    subject_files,
)
from gather_job.pipeline.datetime_keys import datetime_keys
from gather_job.pipeline.documents import Document, Gathered, parts_say
from gather_job.pipeline.lookups import Lookups
from gather_job.settings.model import JobSettings
from gather_job.storage.folder import Folder, InputProblem


class Gathering:
    """One gather's stages. `check_only`: what only the upload or the service can give is not checked."""

    def __init__(
        self, settings: JobSettings, folder: Folder, lookups: Lookups, findings: Findings, *, check_only: bool
    ) -> None:
        self.s = settings
        self.folder = folder
        self.lookups = lookups
        self.findings = findings
        self.check_only = check_only
        self.uploaded = False  # `check` of a gathered or uploaded asset: files final (`earlier_run.is_finished`)
        self.result = Gathered(settings, findings, plan.Plan(), folder_label=folder.label)
        self.mapper_inputs: dict[str, Any] = {}
        self.zone: rig_time.Zone | None = None
        self.part_zones: dict[str, rig_time.Zone] = {}  # acquisition parts naming zones of their own
        self.result.service_calls = lookups.calls

    # -- names and early requests, before any model import ---------------------------------------
    def plan(self, names: list[str], earlier_outputs: frozenset[str] = frozenset()) -> None:
        self.result.plan = plan.plan_files(n for n in names if n not in earlier_outputs)
        plan.report(self.result.plan, self.findings, gathered=self.uploaded)

    def start_requests(self) -> None:
        s, exact = self.s, self.result.plan.exact
        instrument_id = s.instrument_settings.instrument_id
        if not self.lookups.online:
            if instrument_id and "instrument" not in exact:
                service_answers.instrument_offline(instrument_id, self.check_only, self.result.unchecked, self.findings)
            return
        if s.subject_id:
            # weights asked while the models import, at the settings' start as its own clock showed it;
            # the acquisition's wall clock replaces it (one more call) if the pipeline sent another zone
            found = self.result.plan
            enrichable = bool(found.mapped) or any(kind == "acquisition" for kind, _ in found.inputs())
            self.request_subject(s.subject_id, s.acquisition_start_time if enrichable else None)
        dd = s.data_description_settings
        if "data_description" not in exact and dd.project_name:
            for what, given in (("funding", dd.funding_source), ("investigators", dd.investigators)):
                if given is None:
                    self.lookups.start(what, dd.project_name)
        if instrument_id and "instrument" not in exact:
            self.lookups.start("instrument", instrument_id)

    def request_subject(self, subject_id: str, wall_clock: datetime | None) -> None:
        if subject_id == subject_files.CALIBRATION:
            return
        if "subject" not in self.result.plan.exact:
            self.lookups.start("subject", subject_id)
        self.lookups.start("procedures", subject_id)  # also with a procedures.json: the two are joined
        if self.s.enrichment_settings.enabled:
            enrichment.start(self.lookups, subject_id, wall_clock)
        if self.result.plan.mapped:
            self.lookups.start(mappers.INTENDED_MEASUREMENTS, subject_id)

    # -- the folder's files ------------------------------------------------------------------------
    def read_files(self) -> None:
        """Read, decode and validate every input once, one file at a time.

        The acquisitions are decoded first, because their start times say the rig's zone that naive
        times in every file are read in; every other file is read, decoded and validated in turn, so
        only one file's bytes and dict are alive beside the models (at 300x that is 100 MB less)."""
        found = self.result.plan
        names = [*found.inputs(), *(("mapper", name) for name in found.mapped.values())]
        self.result.input_locations = frozenset(self.folder.location(name) for _, name in names)
        docs = [(kind, Document(kind=kind, label=name, origin={"from": "file", "file": name})) for kind, name in names]
        acquisitions = [(doc.label, self._decode(doc)) for kind, doc in docs if kind == "acquisition"]
        parts = [(label, a) for label, a in acquisitions if isinstance(a, dict)]
        self.zone = rig_time.rig_zone([a for _, a in parts], self.s.acquisition_start_time)
        self.part_zones = rig_time.own_zones(parts, self.findings) if len(parts) > 1 else {}
        for kind, doc in docs:
            if kind != "acquisition":
                self._decode(doc)
            if kind == "mapper":
                self.mapper_inputs[doc.label] = self._wall_clock(doc.data, frozenset({"start_time", "end_time"}), doc)
                doc.raw = doc.data = None
                continue
            if doc.data is not None:
                # a file's dict is not needed after validation (an invalid file is passed on from its bytes),
                # so it is validated in place; a service record is copied first (see `validate`)
                doc.model = self.validate(kind, doc.label, doc.data, raw=doc.raw)
                if doc.model is not None:
                    doc.raw = doc.data = None  # only an invalid file is passed on as it came
            if found.exact.get(kind) == doc.label:
                self.keep(kind, doc)
            else:
                self.result.parts.setdefault(kind, []).append(doc)
        read = self.result.inputs_read
        self.result.inputs_read = {name: read[name] for _, name in names if name in read}  # in listing order

    def _decode(self, doc: Document) -> Any:
        """Read one input and decode its JSON (findings for what cannot be read or decoded)."""
        try:
            raw = self.folder.read(doc.label)
        except InputProblem as problem:
            self.findings.error(problem.id, problem.message, files=(doc.label,), hint=problem.hint)
            return None
        self.result.inputs_read[doc.label] = (hashlib.sha256(raw).hexdigest(), len(raw))
        doc.raw, doc.data = raw, load.decode_json(doc.label, raw, self.findings)
        return doc.data

    def _wall_clock(self, data: Any, keys: frozenset[str], doc_label: str | Document) -> Any:
        """Naive times as the rig's wall clock (docs/design.md §5), so no machine's zone leaks in."""
        label = doc_label.label if isinstance(doc_label, Document) else doc_label
        return rig_time.place(data, self.part_zones.get(label, self.zone), keys, label, self.findings)

    def validate(self, kind: str, label: str, data: Any, *, raw: bytes | None = None) -> Any:
        """Validate decoded JSON, with naive times placed in the rig's zone (and an acquisition's zone checked).
        With `raw` (a folder file), the dict is validated in place unless naive times must be attached
        (which copies it); without (a service record, passed on as it came when invalid), a copy is.
        Validation rewrites nested object_type values in place, hence the copy.
        """
        keys = datetime_keys(schema.model_class(kind))
        if raw is None or rig_time.may_hold_naive(raw, keys):
            placed = self._wall_clock(data, keys, label)
            data = placed if placed is not data or raw is not None else copy.deepcopy(data)
        model = load.validate(kind, label, data, self.findings)
        if kind == "acquisition" and model is not None:
            rig_time.check_start_tz(model, label, self.findings)
        return model

    def keep(self, kind: str, doc: Document) -> None:
        self.result.documents[kind] = doc
        self.result.labels[kind] = doc.label

    def merge_parts(self, kind: str) -> None:
        docs = self.result.parts.get(kind)
        if not docs:
            return
        if len(docs) == 1:
            self.keep(kind, docs[0])
            return
        label = f"{schema.file_name(kind)} (merged)"
        model = merge.merge(kind, docs, self.findings)
        origin: dict[str, Any] = {"from": "merged", "parts": [d.origin.get("file", d.label) for d in docs]}
        if any(d.origin.get("from") == "service" for d in docs):
            origin["service"] = [d.origin["url"] for d in docs if d.origin.get("from") == "service"]
        self.keep(kind, Document(kind=kind, label=label, model=model, origin=origin))

    # -- who and when --------------------------------------------------------------------------------
    def subject_and_start(self) -> tuple[str | None, Any]:
        acquisition = self.result.documents.get("acquisition")
        subject_id, start = self.s.subject_id, self.s.acquisition_start_time
        if acquisition is not None and acquisition.model is not None:
            subject_id, start = acquisition.model.subject_id, acquisition.model.acquisition_start_time
        elif acquisition is not None and isinstance(acquisition.data, dict):
            subject_id = str(acquisition.data.get("subject_id") or subject_id or "") or None
        elif acquisition is not None and (said := parts_say(self.result.parts.get("acquisition", [])))[0]:
            subject_id, start = said[0], said[1] or start
        elif self.mapper_inputs and not subject_id:
            subject_id = next((mappers.subject_of("fip", d) for d in self.mapper_inputs.values() if d), None)
        if subject_id and self.lookups.online:
            wall = _wall(acquisition.model) if acquisition is not None and acquisition.model is not None else None
            self.request_subject(subject_id, wall or (start if _naive(start) else None))
        return subject_id, start

    # -- the service's answers -------------------------------------------------------------------------
    def subject_documents(self, subject_id: str | None) -> None:
        if subject_id == subject_files.CALIBRATION:
            for kind, doc in subject_files.calibration_documents(self._calibration_object(), self.findings).items():
                if kind in self.result.documents:
                    self.findings.warning(
                        "gather.calibration.replaced",
                        f"A calibration upload's {kind}.json is built by the job; "
                        f"{self.result.labels[kind]} is not used.",
                        files=(self.result.labels[kind],),
                        hint=f"Remove {kind}.json from the folder, or describe the object in subject_settings.",
                    )
                self.keep(kind, doc)
            return
        if "subject" not in self.result.documents:
            got = self.lookups.outcome("subject")
            if got is not None and isinstance(got[2], ServiceError):
                # LabTracks' own list tells several records for one id (a data problem) from an outage
                self.lookups.start(enrichment.LABTRACKS, "", {"subject_id": got[0]})
                labtracks = self.lookups.outcome(enrichment.LABTRACKS)
                if not service_answers.ambiguous_subject(got[0], got[1], got[2], labtracks, self.findings):
                    raise got[2]
            else:
                self._from_service("subject", self.lookups.answer("subject"), subject_id, required=True)
        procedures = self.lookups.answer("procedures")
        in_folder = self.result.documents.get("procedures")
        final = self.uploaded or self.folder.label.startswith("s3://")  # an uploaded procedures.json is final
        if in_folder is not None and self.check_only and not self.lookups.online and not final:
            self.result.unchecked.add("service_procedures")
            self.findings.info(
                "gather.resolve.not_checked",
                "At upload, procedures.json is joined with the service's procedures, which are not seen offline.",
                files=(in_folder.label,),
            )
        if in_folder is None:
            self._from_service("procedures", procedures, subject_id, required=False)
        elif procedures is not None and in_folder.valid:
            service_doc = self._service_document("procedures", procedures, quiet=True)
            if service_doc is not None and service_doc.valid:
                joined = subject_files.join_procedures(
                    in_folder, service_doc, self.findings, refuse=self.s.raise_if_invalid
                )
                self.keep("procedures", joined)

    def _calibration_object(self) -> dict[str, Any] | None:
        return self.s.subject_settings.calibration_object if self.s.subject_settings else None

    def _service_document(self, kind: str, got: tuple[str, Any], *, quiet: bool = False) -> Document | None:
        key, answer = got
        scratch = Findings() if quiet else self.findings
        doc = service_answers.document(kind, key, answer, scratch, required=kind == "subject")
        if doc is not None:
            # validation rewrites nested object_type values in place; an invalid record is passed on as sent
            doc.model = self.validate(kind, doc.label, doc.data) if not quiet else self._validate_quietly(kind, doc)
        return doc

    def _validate_quietly(self, kind: str, doc: Document) -> Any:
        scratch = Findings()
        data = rig_time.attach(doc.data, self.zone.tz if self.zone else UTC, datetime_keys(schema.model_class(kind)))[0]
        model = load.validate(kind, doc.label, copy.deepcopy(data), scratch)
        if model is None and doc.data is not None:
            first = next((f.message for f in scratch if f.severity is Severity.error), "it did not validate")
            self.findings.warning(
                "gather.procedures.service_invalid",
                f"The metadata service's {kind} failed validation and were not joined with the folder's: {first}",
                files=(doc.label,),
                hint="The folder's procedures.json is used alone; report the record to the service's maintainers.",
            )
        return model

    def _from_service(self, kind: str, got: tuple[str, Any] | None, subject_id: str | None, *, required: bool) -> None:
        if got is None:
            self._missing(kind, subject_id, required)
            return
        doc = self._service_document(kind, got)
        if doc is not None:
            self.keep(kind, doc)

    def instrument_record(self) -> None:
        got = self.lookups.answer("instrument")
        if got is None:
            return
        key, answer = got
        record = service_answers.instrument_record(key, answer, self.findings)
        if record is None:
            return
        parts = self.result.parts.setdefault("instrument", [])
        in_folder = [d for d in parts if d.valid and d.model.instrument_id == key]
        if in_folder:
            self.findings.info(
                "gather.service.instrument_in_folder",
                f"Instrument {key!r} is already in {in_folder[0].label}; the service's record is not merged.",
                files=(in_folder[0].label,),
            )
            return
        record.model = self.validate("instrument", record.label, record.data)
        parts.append(record)

    def _missing(self, kind: str, subject_id: str | None, required: bool) -> None:
        if self.uploaded:  # a processed or model asset has processing.json or model.json, not a subject
            derived = kind == "subject" and bool({"processing", "model"} & self.result.plan.exact.keys())
            self._not_uploaded(kind, Severity.error if required and not derived else Severity.warning)
            return
        if self.check_only and not self.lookups.online:
            self.result.unchecked.add(kind)
            self.findings.info(
                "gather.resolve.not_checked",
                f"No {kind}.json in the folder: at upload it comes from the metadata service (not checked offline).",
                files=(f"{kind}.json",),
            )
            return
        online = self.lookups.online
        why = "the job is offline"
        if online:
            why = "no subject_id is known (neither acquisition.json nor the settings give one)"
        self.findings.add(
            "gather.resolve.missing",
            Severity.error if required else Severity.warning,
            f"No {kind}.json: it is not in the folder and {why}.",
            files=(f"{kind}.json",),
            hint=f"Put {kind}.json in the metadata folder" + (" or set subject_id" if online else "") + ".",
        )

    def _not_uploaded(self, kind: str, severity: Severity) -> None:
        self.findings.add(
            "gather.resolve.missing",
            severity,
            f"No {kind}.json in the uploaded asset {self.folder.label}: an upload's files are final, so it lacks it.",
            files=(f"{kind}.json",),
            hint=f"Gather the asset again (gather-job run writes {kind}.json), or upload the file itself.",
        )

    # -- rig mappers, enrichment, data_description -------------------------------------------------------
    def run_mappers(self, subject_id: str | None) -> None:
        procedures = self.result.documents.get("procedures")
        procedures_data = procedures.model.model_dump(mode="json") if procedures and procedures.valid else None
        intended = self.lookups.outcome(mappers.INTENDED_MEASUREMENTS)
        measurements = intended[2].body if intended and not isinstance(intended[2], ServiceError) else None
        for mapper, name in self.result.plan.mapped.items():
            data = self.mapper_inputs.get(name)
            if data is None:
                continue
            part = mappers.run(
                mapper,
                data,
                subject_id=mappers.subject_of(mapper, data) or subject_id,
                procedures=procedures_data,
                intended_measurements=measurements if isinstance(measurements, dict) else None,
                findings=self.findings,
                strict=self.s.raise_if_mapper_errors,
            )
            if part is not None:
                self.result.parts.setdefault("acquisition", []).append(part)

    def enrich(self, subject_id: str | None) -> None:
        acquisition = self.result.documents.get("acquisition")
        if not self.s.enrichment_settings.enabled or acquisition is None or not subject_id:
            return
        why = None
        if subject_id == subject_files.CALIBRATION:
            why = "a calibration upload"
        elif not self.lookups.online:
            why = "the job is offline"
        elif acquisition.model is None:
            why = "the acquisition is invalid"
        if why is not None:
            self.findings.info(
                "gather.enrichment.skipped",
                f"acquisition.json was not filled from the service (weights, ethics_review_id): {why}.",
                files=(acquisition.label,),
            )
            return
        enrichment.apply(
            acquisition, subject_id, self.lookups, self.s.enrichment_settings.replace_existing, self.findings
        )

    def description(self, subject_id: str | None, start: Any) -> None:
        if "data_description" in self.result.documents:
            return
        dd = self.s.data_description_settings
        if self.uploaded:
            self._not_uploaded("data_description", Severity.error)
            return
        if self.check_only and not dd.project_name and not dd.modalities:
            self.result.unchecked.add("data_description")
            self.findings.info(
                "gather.resolve.not_checked",
                "No data_description.json in the folder: at upload it is built from the upload's settings "
                "(give --settings-file to check that too).",
                files=("data_description.json",),
            )
            return
        at_desk = self.check_only and not self.lookups.online
        funding, people = (
            service_answers.listing_for(
                what, given, self.lookups, self.result.unchecked, self.findings, at_desk=at_desk
            )
            for what, given in (("funding", dd.funding_source), ("investigators", dd.investigators))
        )
        self.keep("data_description", data_description.build(self.s, subject_id, start, funding, people, self.findings))


def _naive(value: Any) -> bool:
    return isinstance(value, datetime) and value.tzinfo is None


def _wall(acquisition: Any) -> datetime:
    from gather_job.pipeline.cross_checks import wall_clock

    return wall_clock(acquisition)
