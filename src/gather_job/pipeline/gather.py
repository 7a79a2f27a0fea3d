"""One gather, from settings to validated documents (the stages are `gathering.Gathering`'s).

Order matters for speed: the folder is listed and the service requests are started before
aind-data-schema's models are first imported, so the network overlaps the 1-2 s import. Nothing
is written here: the job (`job.py`) decides and writes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from gather_job import schema
from gather_job.findings import Finding, Findings
from gather_job.pipeline import cross_checks, enrichment, mappers, modality_folders, nested
from gather_job.pipeline.documents import Gathered
from gather_job.pipeline.gathering import Gathering
from gather_job.pipeline.lookups import Lookups
from gather_job.pipeline.plan import Plan
from gather_job.progress import Progress
from gather_job.service import MetadataService, RetryPolicy
from gather_job.settings.model import JobSettings
from gather_job.storage import earlier_run, kept_inputs
from gather_job.storage.folder import Folder, open_folder


@contextmanager
def _timed(timings: dict[str, float], stage: str, progress: Progress, text: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        with progress.step(text):
            yield
    finally:
        timings[stage] = round(timings.get(stage, 0.0) + time.perf_counter() - started, 4)


CHECK_OFFLINE_HINT = (
    "To check without it, add --offline (what only the service gives is then reported as not checked), "
    "or point metadata_service_url at a service you can reach (e.g. through a VPN or a tunnel)."
)


def make_service(settings: JobSettings, user_agent: str, *, at_a_desk: bool = False) -> MetadataService:
    return MetadataService(
        settings.metadata_service_url,
        {
            "subject": settings.metadata_service_subject_endpoint,
            "procedures": settings.metadata_service_procedures_endpoint,
            "instrument": settings.metadata_service_instrument_endpoint,
            "funding": settings.metadata_service_funding_endpoint,
            "investigators": settings.metadata_service_investigators_endpoint,
            enrichment.WEIGHTS: settings.metadata_service_weights_endpoint,
            enrichment.LABTRACKS: settings.metadata_service_labtracks_endpoint,
            mappers.INTENDED_MEASUREMENTS: f"/{mappers.INTENDED_MEASUREMENTS}",
        },
        timeouts={"procedures": settings.service_procedures_timeout_s},
        default_timeout=settings.service_timeout_s,
        policy=RetryPolicy(
            retries=settings.service_retries,
            backoff_s=settings.service_backoff_s,
            total_s=settings.service_total_timeout_s,
        ),
        user_agent=user_agent,
        unreachable_hint=CHECK_OFFLINE_HINT if at_a_desk else None,
    )


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
    own_service = service is None and not settings.offline
    if own_service:
        service = make_service(settings, user_agent, at_a_desk=mode == "check")
    run = Gathering(
        settings,
        folder or open_folder(settings),
        Lookups(None if settings.offline else service),
        findings,
        check_only=mode == "check",
    )
    timings = run.result.timings
    shown = progress or Progress(None)

    def stage(name: str, text: str) -> Any:
        return _timed(timings, name, shown, text)

    try:
        with schema.few_full_collections():
            _stages(run, stage)
    finally:
        if own_service and service is not None:
            service.close()
    return run.result


def _model_kinds(plan: Plan) -> list[str]:
    """Every core model but those only a folder gives when this folder lacks them (each costs import time)."""
    present = {kind for kind, _ in plan.inputs()}
    return [kind for kind in schema.CORE_FILES if kind not in schema.FOLDER_ONLY or kind in present]


def _stages(run: Gathering, stage: Callable[[str, str], Any]) -> None:
    """The stages in order; each is timed (the report's `timings_s`) and shown as progress."""
    with stage("resolve", f"listing {run.folder.label}"):
        names = run.folder.names()
        # a rerun in the staging folder: what the earlier run wrote there is output, not input
        replacing = not run.check_only and earlier_run.writes_where_it_reads(run.s.output_dir, run.s.source_dir)
        run.result.in_place = replacing
        earlier = earlier_run.outputs_in(run.folder, names, run.findings) if replacing else frozenset()
        if earlier:  # a file an earlier run here rewrote in place: its input is read from where it was kept
            run.folder, restored = kept_inputs.restore(run.folder, earlier, run.findings)
            run.result.reader, earlier = run.folder, earlier - restored
        run.uploaded = run.check_only and earlier_run.is_finished(run.folder, names, run.folder.label, run.s)
        run.result.final = run.uploaded
        run.plan(names, earlier)
        _output_as_input(run)
        run.start_requests()
    with stage("import_models", "loading aind-data-schema's models"):
        schema.import_models(_model_kinds(run.result.plan))
    mapped = bool(run.result.plan.mapped)
    with stage("read_and_validate", f"reading and validating {len(run.result.plan.inputs())} files"):
        run.read_files()
        if not mapped:  # a rig mapper's part joins the acquisition once procedures are known
            run.merge_parts("acquisition")
        run.merge_parts("quality_control")
        subject_id, start = run.subject_and_start()
    waiting = ", ".join(run.lookups.pending) or "nothing"
    with stage("service_wait", f"waiting for the metadata service ({waiting})"):
        run.subject_documents(subject_id)
        run.instrument_record()
    if mapped:
        with stage("mappers", "running the rig mappers"):
            run.run_mappers(subject_id)
            run.merge_parts("acquisition")
            subject_id, start = run.subject_and_start()
    with stage("merge_and_build", "merging the instrument and building data_description.json"):
        run.merge_parts("instrument")
        run.description(subject_id, start)
        run.enrich(subject_id)
    with stage("cross_checks", "checking the files against each other"):
        cross_checks.cross_check(run.result)
        final = run.uploaded or run.folder.label.startswith("s3://")  # else a source folder's names are its own
        modality_folders.check_asset(modality_folders.present(run.folder), run.result, final=final)
        nested.report(run.folder, run.result.plan, run.findings)


def _output_as_input(run: Gathering) -> None:
    """`run` without metadata_dir reads output_dir (as the reference does); when that holds no metadata
    file, the missing files' findings alone would not say that the folder read was the output."""
    s = run.s
    if run.check_only or s.metadata_dir is not None or run.result.plan.meant():
        return
    run.findings.warning(
        "gather.resolve.output_as_input",
        f"metadata_dir is not set, so the metadata files were looked for in output_dir "
        f"({run.folder.label}), which holds none.",
        location="metadata_dir",
        hint="Set metadata_dir to the asset's metadata folder; output_dir is where the gathered files go.",
    )
