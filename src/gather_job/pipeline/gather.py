"""One gather, from settings to validated documents (no writing: see `output.py`).

Order matters for speed: the folder is listed and the service requests are started before
aind-data-schema's models are first imported, so the network overlaps the 1-2 s import.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any

from gather_job import schema
from gather_job.findings import Finding, Findings, Severity
from gather_job.pipeline import cross_checks, data_description, load, merge, service_answers
from gather_job.pipeline.data_description import Listing
from gather_job.pipeline.documents import Document, Gathered
from gather_job.pipeline.plan import LEGACY_NAMES, Plan, plan_files
from gather_job.progress import Progress
from gather_job.service import Answer, MetadataService, RetryPolicy, redact_url
from gather_job.settings.model import REFERENCE_ONLY_KEYS, JobSettings
from gather_job.storage.folder import Folder, InputProblem, open_folder


@contextmanager
def _timed(timings: dict[str, float], stage: str, progress: Progress, text: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        with progress.step(text):
            yield
    finally:
        timings[stage] = round(timings.get(stage, 0.0) + time.perf_counter() - started, 4)


def make_service(settings: JobSettings, user_agent: str) -> MetadataService:
    return MetadataService(
        settings.metadata_service_url,
        {
            "subject": settings.metadata_service_subject_endpoint,
            "procedures": settings.metadata_service_procedures_endpoint,
            "instrument": settings.metadata_service_instrument_endpoint,
            "funding": settings.metadata_service_funding_endpoint,
            "investigators": settings.metadata_service_investigators_endpoint,
        },
        timeouts={"procedures": settings.service_procedures_timeout_s},
        default_timeout=settings.service_timeout_s,
        policy=RetryPolicy(
            retries=settings.service_retries,
            backoff_s=settings.service_backoff_s,
            total_s=settings.service_total_timeout_s,
        ),
        user_agent=user_agent,
    )


class _Run:
    """The state of one gather; methods are its stages, in the order `gather` calls them."""

    def __init__(
        self,
        settings: JobSettings,
        folder: Folder,
        service: MetadataService | None,
        findings: Findings,
        *,
        check_only: bool = False,
    ):
        self.s = settings
        self.check_only = check_only
        self.folder = folder
        self.service = service
        self.findings = findings
        self.result = Gathered(settings, findings, Plan(), folder_label=folder.label)
        self.labels = self.result.labels
        self.parts = self.result.parts
        self.pending: dict[str, tuple[str, Future[Answer]]] = {}

    # -- stage 1: names and requests, before any model import ------------------------------------
    def plan(self) -> None:
        plan = self.result.plan = plan_files(self.folder.names())
        for kind, names in plan.ignored_parts.items():
            self.findings.warning(
                "gather.resolve.ignored_parts",
                f"{schema.file_name(kind)} is in the folder, so {names} are not merged into it.",
                files=tuple(names),
                hint=f"Remove {schema.file_name(kind)} to have the parts merged, or remove the parts.",
            )
        for name in plan.legacy:
            self.findings.warning(
                "gather.resolve.legacy_name",
                f"{name} is an aind-data-schema 1.x file name and is not read.",
                files=(name,),
                hint=f"Convert it to the 2.x {LEGACY_NAMES[name]}.",
            )
        for name in plan.unused:
            self.findings.info(
                "gather.resolve.unused",
                f"{name} is not a core metadata file; it is left alone.",
                files=(name,),
            )

    def start_requests(self) -> None:
        plan, s = self.result.plan, self.s
        instrument_id = s.instrument_settings.instrument_id
        if self.service is None:
            if instrument_id and "instrument" not in plan.exact:
                self.findings.warning(
                    "gather.service.offline",
                    f"Offline: instrument {instrument_id!r} was not fetched from the metadata service.",
                    location="instrument_settings.instrument_id",
                    hint="Put the instrument's JSON in the folder, or run with the service.",
                )
            return
        if s.subject_id:
            self._request_subject(s.subject_id)
        dd = s.data_description_settings
        if "data_description" not in plan.exact and dd.project_name:
            if dd.funding_source is None:
                self._submit("funding", dd.project_name)
            if dd.investigators is None:
                self._submit("investigators", dd.project_name)
        if instrument_id and "instrument" not in plan.exact:
            self._submit("instrument", instrument_id)

    def _request_subject(self, subject_id: str) -> None:
        for kind in ("subject", "procedures"):
            if kind not in self.result.plan.exact:
                self._submit(kind, subject_id)

    def _submit(self, kind: str, key: str) -> None:
        assert self.service is not None
        self.pending[kind] = (key, self.service.submit(kind, key))
        self.result.service_calls.append(redact_url(self.service.url(kind, key)))

    def _answer(self, kind: str) -> tuple[str, Answer] | None:
        if kind not in self.pending:
            return None
        key, future = self.pending[kind]
        return key, future.result()

    # -- stage 2: the folder's files --------------------------------------------------------------
    def read_files(self) -> None:
        plan = self.result.plan
        self.result.input_locations = frozenset(self.folder.location(name) for _, name in plan.inputs())
        for kind, name in plan.inputs():
            try:
                raw = self.folder.read(name)
            except InputProblem as problem:
                self.findings.error(problem.id, problem.message, files=(name,), hint=problem.hint)
                doc = Document(kind=kind, label=name)
            else:
                doc = load.load(kind, name, raw, self.findings)
            doc.origin = {"from": "file", "file": name}
            if plan.exact.get(kind) == name:
                self._keep(kind, doc)
            else:
                self.parts.setdefault(kind, []).append(doc)

    def _keep(self, kind: str, doc: Document) -> None:
        self.result.documents[kind] = doc
        self.labels[kind] = doc.label

    def merge_parts(self, kind: str) -> None:
        docs = self.parts.get(kind)
        if not docs:
            return
        if len(docs) == 1:
            self._keep(kind, docs[0])
            return
        label = f"{schema.file_name(kind)} (merged)"
        model = merge.merge(kind, docs, self.findings)
        origin = {"from": "merged", "parts": [d.origin.get("file", d.label) for d in docs]}
        if any(d.origin.get("from") == "service" for d in docs):
            origin["service"] = [d.origin["url"] for d in docs if d.origin.get("from") == "service"]
        self._keep(kind, Document(kind=kind, label=label, model=model, origin=origin))

    # -- stage 3: who and when --------------------------------------------------------------------
    def subject_and_start(self) -> tuple[str | None, Any]:
        acquisition = self.result.documents.get("acquisition")
        subject_id, start = self.s.subject_id, self.s.acquisition_start_time
        if acquisition is not None and acquisition.model is not None:
            subject_id = acquisition.model.subject_id
            start = acquisition.model.acquisition_start_time
        elif acquisition is not None and isinstance(acquisition.data, dict):
            subject_id = str(acquisition.data.get("subject_id") or subject_id or "") or None
        if subject_id and self.service is not None and subject_id != self.s.subject_id:
            self._request_subject(subject_id)
        return subject_id, start

    # -- stage 4: the service's answers -----------------------------------------------------------
    def service_documents(self, subject_id: str | None) -> None:
        for kind, required in (("subject", True), ("procedures", False)):
            if kind in self.result.documents:
                continue
            got = self._answer(kind)
            if got is None:
                self._missing(kind, subject_id, required)
                continue
            key, answer = got
            doc = service_answers.document(kind, key, answer, self.findings, required=required)
            if doc is not None:
                # a copy: validation rewrites nested object_type values in place, and an invalid
                # record is written as the service sent it (raise_if_invalid=false)
                doc.model = load.validate(kind, doc.label, copy.deepcopy(doc.data), self.findings)
                self._keep(kind, doc)
        got = self._answer("instrument")
        if got is not None:
            key, answer = got
            record = service_answers.instrument_record(key, answer, self.findings)
            if record is not None:
                self._add_instrument_record(key, record)

    def _add_instrument_record(self, instrument_id: str, record: Document) -> None:
        in_folder = [d for d in self.parts.get("instrument", []) if d.valid and d.model.instrument_id == instrument_id]
        if in_folder:
            self.findings.info(
                "gather.service.instrument_in_folder",
                f"Instrument {instrument_id!r} is already in {in_folder[0].label}; the service's record is not merged.",
                files=(in_folder[0].label,),
            )
            return
        record.model = load.validate("instrument", record.label, copy.deepcopy(record.data), self.findings)
        self.parts.setdefault("instrument", []).append(record)

    def _missing(self, kind: str, subject_id: str | None, required: bool) -> None:
        if self.check_only and self.service is None:
            self.result.unchecked.add(kind)
            self.findings.info(
                "gather.resolve.not_checked",
                f"No {kind}.json in the folder: at upload it comes from the metadata service (not checked offline).",
                files=(f"{kind}.json",),
            )
            return
        why = "the job is offline" if self.service is None else "no subject_id is known"
        if subject_id is None and self.service is not None:
            why = "no subject_id is known (neither acquisition.json nor the settings give one)"
        self.findings.add(
            "gather.resolve.missing",
            Severity.error if required else Severity.warning,
            f"No {kind}.json: it is not in the folder and {why}.",
            files=(f"{kind}.json",),
            hint=f"Put {kind}.json in the metadata folder"
            + ("" if self.service is None else " or set subject_id")
            + ".",
        )

    def description(self, subject_id: str | None, start: Any) -> None:
        if "data_description" in self.result.documents:
            return
        dd = self.s.data_description_settings
        if self.check_only and not dd.project_name and not dd.modalities:
            self.result.unchecked.add("data_description")
            self.findings.info(
                "gather.resolve.not_checked",
                "No data_description.json in the folder: at upload it is built from the upload's settings "
                "(give --settings-file to check that too).",
                files=("data_description.json",),
            )
            return
        self._keep(
            "data_description",
            data_description.build(
                self.s,
                subject_id,
                start,
                self._listing("funding", dd.funding_source),
                self._listing("investigators", dd.investigators),
                self.findings,
            ),
        )

    def _listing(self, what: str, given: list[dict[str, Any]] | None) -> Listing:
        if given is not None:
            return Listing(given, "data_description_settings")
        got = self._answer(what)
        if got is None:
            reason = "the job is offline" if self.service is None else "no project_name is set"
            return Listing(None, f"{reason}, and data_description_settings has no {what}")
        key, answer = got
        return service_answers.listing(what, key, answer)


def gather(
    settings: JobSettings,
    *,
    notes: list[Finding] | None = None,
    folder: Folder | None = None,
    service: MetadataService | None = None,
    user_agent: str = "gather-job",
    mode: str = "run",
    progress: Progress | None = None,
) -> Gathered:
    """Resolve, fetch, merge and validate; raise ServiceError (exit 4) when the service fails.

    `mode="check"` is the same path; only what cannot be known at a desk (offline lookups, a
    data_description without its settings) is reported as not checked instead of missing.
    """
    findings = Findings()
    findings.extend(notes or [])
    for key in sorted(REFERENCE_ONLY_KEYS.keys() & settings.model_fields_set):
        findings.warning(
            "gather.settings.ignored_key",
            f"'{key}' in the settings has no effect: {REFERENCE_ONLY_KEYS[key]}.",
            location=key,
            hint=f"Remove '{key}' from the settings to silence this warning.",
        )
    own_service = service is None and not settings.offline
    if own_service:
        service = make_service(settings, user_agent)
    run = _Run(
        settings,
        folder or open_folder(settings),
        None if settings.offline else service,
        findings,
        check_only=mode == "check",
    )
    timings = run.result.timings
    shown = progress or Progress(None)

    def stage(name: str, text: str) -> Any:
        return _timed(timings, name, shown, text)

    try:
        with stage("resolve", f"listing {run.folder.label}"):
            run.plan()
            run.start_requests()
        with stage("import_models", "loading aind-data-schema's models"):
            schema.import_all()
        with stage("read_and_validate", f"reading and validating {len(run.result.plan.inputs())} files"):
            run.read_files()
            run.merge_parts("acquisition")
            run.merge_parts("quality_control")
            subject_id, start = run.subject_and_start()
        with stage("service_wait", f"waiting for the metadata service ({', '.join(run.pending) or 'nothing'})"):
            run.service_documents(subject_id)
        with stage("merge_and_build", "merging the instrument and building data_description.json"):
            run.merge_parts("instrument")
            run.description(subject_id, start)
        with stage("cross_checks", "checking the files against each other"):
            cross_checks.cross_check(run.result)
    finally:
        if own_service and service is not None:
            service.close()
    return run.result
