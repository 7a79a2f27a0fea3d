"""GatherMetadataJob: one asset's metadata gathered, validated and written (the library's front door).

    from gather_job import GatherMetadataJob, JobSettings
    outcome = GatherMetadataJob(JobSettings(output_dir="out", ...)).run_job()

`run_job()` is `gather-job run`: resolve and fetch the files, merge and validate them, decide once,
then write the core files (or, when invalid, only the report) to the output, a local folder or an
S3 prefix. With `raise_if_invalid` and an error finding it raises `InvalidMetadata` carrying the
`Outcome`, after the report is written. `check()` is `gather-job check`: the same gather, nothing
written. Service, S3 and usage failures raise ServiceError, UsageError and OutputRefused.

A job keeps no state in the process: each call builds its own service session, clients and
findings, so jobs run one after another give what separate processes give.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from gather_job import __version__, policy, report, schema, streamed_json
from gather_job.errors import ExitCode, InvalidMetadata, ServiceError, WriteInterrupted
from gather_job.findings import Finding, Findings, Severity
from gather_job.pipeline import cross_checks
from gather_job.pipeline.documents import Document, Gathered
from gather_job.progress import Progress
from gather_job.reference_methods import ReferenceMethods
from gather_job.render import counts, why_nothing_written
from gather_job.settings.model import JobSettings
from gather_job.storage import paths
from gather_job.storage.folder import Folder, open_folder
from gather_job.storage.target import ORIGINALS, REPORT_NAME, Hook, open_target

if TYPE_CHECKING:
    from gather_job.aws import Clients

Status = Literal["written", "invalid", "skipped", "checked"]


@dataclass
class Outcome:
    """What a run or check did: its status and exit code, every finding, what it wrote, its report.

    `files` maps each written file (the report included) to its sha256 and size; `gathered` holds
    the documents and where each came from (None when a run was skipped).
    """

    status: Status
    exit_code: ExitCode
    findings: Findings = field(default_factory=Findings)
    target: str | None = None
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    gathered: Gathered | None = None

    @property
    def written(self) -> list[str]:
        return list(self.files)


def serialize(doc: Document) -> bytes | None:
    """Bytes to write for one document: the model as aind-data-schema writes it, else as gathered."""
    if doc.model is not None:
        # model_dump_json's own call, without its decode to str and our encode back: one copy, not three
        # (tests/test_api.py pins the bytes to model_dump_json's)
        data: bytes = type(doc.model).__pydantic_serializer__.to_json(doc.model, indent=3)
        return data
    if doc.raw is not None and doc.data is not None:
        return doc.raw  # an invalid file from the folder, passed on byte for byte
    if doc.data is not None:
        return json.dumps(doc.data, indent=3, ensure_ascii=False).encode("utf-8")
    return None


def checksums(files: Mapping[str, bytes]) -> dict[str, dict[str, Any]]:
    return {name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)} for name, data in files.items()}


def _rewritten_inputs(gathered: Gathered, files: Mapping[str, bytes], folder: Folder) -> list[str]:
    """In place (`metadata_dir` unset or equal to `output_dir`), the core files whose gathered bytes differ
    from the input of the same name there: written over it, or the asset would keep the input and not
    what was validated and reported (the service's procedures joined, weights filled). See `kept_inputs`."""
    if not isinstance(files, CoreFiles) or not gathered.in_place:
        return []
    return [
        name
        for name in files
        if name in gathered.inputs_read
        and folder.location(name) in gathered.input_locations
        and files.sha256(name) != gathered.inputs_read[name][0]
    ]


class CoreFiles(Mapping[str, bytes]):
    """The core files to write, serialized only when the target writes each one, and not kept.

    At 300x the core files are 40 MB of JSON beside 170 MB of models; serializing them all before
    the first write made them the run's peak. The target takes them one at a time (a local one in
    pieces, `pieces`), each file's checksum is kept for the report (written last), and at most one
    file's bytes are alive at once.
    """

    def __init__(self, gathered: Gathered) -> None:
        self._docs = {
            schema.file_name(kind): doc
            for kind in schema.CORE_FILES
            if (doc := gathered.documents.get(kind)) is not None and (doc.model is not None or doc.data is not None)
        }
        self.sums: dict[str, dict[str, Any]] = {}

    def __getitem__(self, name: str) -> bytes:
        data = serialize(self._docs[name])
        if data is None:
            raise KeyError(name)
        self.sums[name] = checksums({name: data})[name]
        return data

    def sha256(self, name: str) -> str | None:
        """The file's checksum, without counting it as written (`sums` lists what the target wrote)."""
        data = serialize(self._docs[name])
        return None if data is None else hashlib.sha256(data).hexdigest()

    def pieces(self, name: str) -> Iterator[bytes]:
        """The same bytes in pieces (`streamed_json`), for a target that writes them as they come: a
        300x acquisition is then never one 26 MB buffer. The checksum is kept once the last piece is out."""
        doc = self._docs[name]
        if doc.model is None:
            yield self[name]
            return
        digest, size = hashlib.sha256(), 0
        for piece in streamed_json.chunks(doc.model):
            digest.update(piece)
            size += len(piece)
            yield piece
        self.sums[name] = {"sha256": digest.hexdigest(), "bytes": size}

    def __iter__(self) -> Iterator[str]:
        return iter(self._docs)

    def __len__(self) -> int:
        return len(self._docs)


def _report(
    command: str, status: Status, code: ExitCode, gathered: Gathered, files: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    return report.build_report(
        command=command,
        status=status,
        exit_code=int(code),
        tool_version=__version__,
        schema_version=schema.schema_version(),
        settings=gathered.settings.model_dump(mode="json"),
        sources={schema.file_name(kind): doc.origin for kind, doc in sorted(gathered.documents.items())},
        findings=gathered.findings,
        files=files,
        service_calls=gathered.service_calls,
        timings=gathered.timings,
        policy=gathered.policy,
    )


def _extra_report(settings: JobSettings, data: bytes) -> None:
    """The copy `report` asks for (its path was checked before any work: `paths.check_run`)."""
    if settings.report:
        paths.deliver(settings.report, data, "report")


FINDINGS_LOGGER = "gather_job.findings"  # the CLI prints findings itself and filters these records out
_LEVELS = {Severity.error: logging.ERROR, Severity.warning: logging.WARNING, Severity.info: logging.INFO}


def log_outcome(outcome: Outcome) -> None:
    """Every finding, then the outcome, as log records: code written for the reference reads its logs
    (its `run_job()` returned None and logged each problem), so a library call that only returned
    them would be silent. Unconfigured logging still shows warnings and errors (Python's last resort)."""
    log = logging.getLogger(FINDINGS_LOGGER)
    for found in outcome.findings.sorted():
        where = f"{', '.join(found.files)}: " if found.files else ""
        fix = f" Fix: {found.hint}" if found.hint else ""
        log.log(_LEVELS[found.severity], "%s%s (%s)%s", where, found.message, found.id, fix)
    level = logging.ERROR if outcome.exit_code else logging.INFO
    log.log(level, "gather-job %s (exit %d): %s", outcome.status, outcome.exit_code, counts(outcome.findings))


class GatherMetadataJob(ReferenceMethods):
    """One asset's job; `job_settings` as the reference's, `notes` from composing them (the CLI's).

    `clients` injects boto3 clients (tests point them at a local S3), `progress` shows slow steps,
    `write_hook` is called with the name of each write step before it happens (crash-safety tests),
    `folder` hands in the asset's folder already read (bulk checks read the next asset ahead).
    """

    def __init__(
        self,
        job_settings: JobSettings | None = None,
        *,
        settings: JobSettings | None = None,
        notes: Sequence[Finding] = (),
        clients: Clients | None = None,
        progress: Progress | None = None,
        write_hook: Hook | None = None,
        folder: Folder | None = None,
    ) -> None:
        given = job_settings if job_settings is not None else settings  # `settings=`: the reference's name
        if given is not None and not isinstance(given, JobSettings) and hasattr(given, "model_dump"):
            # the reference's own JobSettings (code written for aind-metadata-mapper): what it was given
            given = JobSettings.model_validate(given.model_dump(mode="json", include=given.model_fields_set))
        if not isinstance(given, JobSettings):
            raise TypeError(f"job_settings must be a JobSettings, not {type(given).__name__}")
        # checked again: `model_copy(update=...)` and `model_construct` skip validation (a Path, a string
        # for a datetime); the object given is kept when nothing changed, as the reference keeps it
        checked = JobSettings.model_validate({name: getattr(given, name) for name in JobSettings.model_fields})
        object.__setattr__(checked, "__pydantic_fields_set__", set(given.model_fields_set))  # as given
        self.job_settings = given if checked == given else checked
        self.notes = list(notes)
        self._clients = clients
        self.progress = progress or Progress(None)
        self.write_hook = write_hook
        self._given_folder = folder  # an asset read ahead (bulk checks); else metadata_dir is opened

    @property
    def settings(self) -> JobSettings:
        """The reference's name for `job_settings`."""
        return self.job_settings

    def _gather(self, mode: Literal["run", "check"]) -> Gathered:
        from gather_job.pipeline.gather import gather

        self._folder = self._given_folder or open_folder(self.job_settings, self._clients_for_use())
        gathered = gather(
            self.job_settings,
            notes=self.notes,
            folder=self._folder,
            user_agent=f"gather-job/{__version__}",
            mode=mode,
            progress=self.progress,
        )
        self._folder = gathered.reader or self._folder  # a rerun in place reads some inputs from their kept copies
        gathered.findings, gathered.policy = policy.apply(gathered.findings, self.job_settings.findings_policy)
        # after the policy, which may have demoted the errors that left a core file out: the run would
        # write an asset without it, which no setting allows (this finding is past every policy)
        blocked = self.job_settings.raise_if_invalid and gathered.findings.has_errors
        cross_checks.check_outputs(gathered, blocked=blocked)
        return gathered

    def _originals(self, gathered: Gathered) -> dict[str, Callable[[], bytes]]:
        """The input files to keep in the output, read again when written and checked against the first read."""
        folder = self._folder

        def read(name: str, digest: str) -> bytes:
            data = folder.read(name)
            if hashlib.sha256(data).hexdigest() != digest:
                raise ServiceError(
                    f"{folder.location(name)} changed while the job ran, so its copy would not be what was checked.",
                    hint="Run the job again once the upload's files are complete.",
                )
            return data

        return {name: functools.partial(read, name, digest) for name, (digest, _) in gathered.inputs_read.items()}

    def _clients_for_use(self) -> Clients:
        if self._clients is None:
            from gather_job.aws import Clients

            self._clients = Clients(self.job_settings)
        return self._clients

    def run_job(self) -> Outcome:
        """Gather, decide, write; return the Outcome, or raise InvalidMetadata (after the report)."""
        settings = self.job_settings
        paths.check_run(settings)  # nothing read or written yet: a run that would touch its inputs stops here
        target = open_target(settings, self._clients_for_use(), self.write_hook)
        if not target.prepare():
            skipped = Outcome("skipped", ExitCode.OK, target=target.label)
            log_outcome(skipped)
            return skipped
        gathered = self._gather("run")
        invalid = gathered.findings.block_writing or (gathered.findings.has_errors and settings.raise_if_invalid)
        status: Status = "invalid" if invalid else "written"
        code = ExitCode.INVALID if invalid else ExitCode.OK
        files: Mapping[str, bytes] = {} if invalid else CoreFiles(gathered)
        originals = self._originals(gathered) if settings.keep_original_inputs and not invalid else {}
        rewritten = _rewritten_inputs(gathered, files, self._folder)
        if rewritten:  # an input rewritten in place is always kept first: its rerun reads it from there
            readable = self._originals(gathered)
            originals = {name: readable[name] for name in sorted({*originals, *rewritten})}
        kept = {
            f"{ORIGINALS}/{name}": {"sha256": digest, "bytes": size}
            for name, (digest, size) in gathered.inputs_read.items()
            if name in originals
        }
        built: dict[str, Any] = {}

        def build_report() -> bytes:
            """The report, once the core files are written (their checksums are known only then)."""
            listed = {**(files.sums if isinstance(files, CoreFiles) else {}), **kept}
            built["listed"], built["data"] = listed, _report("run", status, code, gathered, listed)
            built["encoded"] = report.dumps(built["data"])
            return bytes(built["encoded"])

        with self.progress.step(f"writing {len(files) + len(kept) + 1} files to {target.label}"):
            try:
                written = target.write(
                    files,
                    build_report,
                    inputs=gathered.input_locations,
                    originals=originals,
                    invalid=invalid,
                    rewrite=frozenset(rewritten),
                )
            except KeyboardInterrupt as exc:
                raise WriteInterrupted(target.label) from exc
        encoded = built["encoded"] if "encoded" in built else build_report()  # not written there: still made
        _extra_report(settings, encoded)
        every = {**built["listed"], REPORT_NAME: checksums({REPORT_NAME: encoded})[REPORT_NAME]}
        outcome = Outcome(
            status, code, gathered.findings, target.label, {n: every[n] for n in written}, built["data"], gathered
        )
        log_outcome(outcome)
        if invalid:
            where = f"{target.label}/{REPORT_NAME}" if REPORT_NAME in written else "not written there"
            raise InvalidMetadata(
                f"The metadata is invalid ({counts(gathered.findings)}); no core file was written "
                f"({why_nothing_written(settings.raise_if_invalid)}). Report: {where}",
                outcome=outcome,
            )
        return outcome

    def check(self) -> Outcome:
        """The same gather as `run_job`, writing nothing: exit code 0 when no error finding remains, else 3."""
        gathered = self._gather("check")
        code = ExitCode.INVALID if gathered.findings.has_errors else ExitCode.OK
        report_data = _report("check", "checked", code, gathered, {})
        outcome = Outcome("checked", code, gathered.findings, None, {}, report_data, gathered)
        log_outcome(outcome)
        return outcome
