"""`run` and `check`: one gather, then the decision, the writing and the report.

The output is a `Target` (a local folder or an S3 prefix); the decision is the same for both.

The exit code is decided here, once, from the collected findings: errors with raise_if_invalid
give 3 and no core file; otherwise every gathered file is written and the run exits 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gather_job import __version__, models, output, report, s3uri
from gather_job.aws import Clients
from gather_job.errors import UsageError
from gather_job.findings import Finding
from gather_job.job import Folder, Result, gather, open_folder
from gather_job.progress import Progress
from gather_job.settings import Settings


@dataclass
class Outcome:
    """What happened, for the CLI to print and return."""

    exit_code: int
    status: str
    result: Result | None
    target: str | None = None
    written: list[str] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)


def _documents_bytes(result: Result) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for kind in models.CORE_FILES:
        doc = result.documents.get(kind)
        if doc is None:
            continue
        data = output.serialize(doc)
        if data is not None:
            files[models.file_name(kind)] = data
    return files


def _sources(result: Result) -> dict[str, Any]:
    return {models.file_name(kind): doc.origin for kind, doc in sorted(result.documents.items())}


def _report(command: str, status: str, code: int, result: Result, files: dict[str, bytes]) -> dict[str, Any]:
    return report.build_report(
        command=command,
        status=status,
        exit_code=code,
        tool_version=__version__,
        schema_version=models.schema_version(),
        settings=result.settings.model_dump(mode="json"),
        sources=_sources(result),
        findings=result.findings,
        files=output.checksums(files),
        service_calls=result.service_calls,
        timings=result.timings,
    )


def _inputs(folder: Folder, result: Result) -> frozenset[str]:
    return frozenset(folder.location(name) for _, name in result.plan.inputs())


def open_target(settings: Settings, clients: Clients, hook: output.Hook | None = None) -> output.Target:
    """The output: a local folder, or an S3 prefix (boto3 is imported only then)."""
    if not settings.output_dir:
        raise UsageError(
            "output_dir is not set in the settings.",
            hint="Add output_dir (the folder the gathered files go to) to the settings, or pass --output-dir.",
        )
    uri = s3uri.location(settings.output_dir, "output_dir")
    if uri is None:
        return output.LocalTarget(Path(settings.output_dir), settings.if_exists, hook)
    from gather_job.s3_output import S3Target

    return S3Target(uri, clients.s3(), settings.if_exists, hook=hook)


def _extra_report(settings: Settings, data: bytes) -> None:
    if settings.report:
        path = Path(settings.report)
        temporary = path.with_name(f".{path.name}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_bytes(data)
            temporary.replace(path)
        except OSError as exc:
            raise UsageError(f"Cannot write the report to '{path}': {exc.strerror or exc}.") from exc


def execute_run(
    settings: Settings,
    notes: list[Finding],
    *,
    hook: output.Hook | None = None,
    folder: Folder | None = None,
    progress: Progress | None = None,
    clients: Clients | None = None,
) -> Outcome:
    clients = clients or Clients(settings)
    target = open_target(settings, clients, hook)
    if not target.prepare():
        return Outcome(0, "skipped", None, target.label)
    source = folder or open_folder(settings, clients)
    agent = f"gather-job/{__version__}"
    result = gather(settings, notes=notes, folder=source, user_agent=agent, progress=progress)
    files = _documents_bytes(result)
    invalid = result.findings.has_errors and settings.raise_if_invalid
    code, status = (3, "invalid") if invalid else (0, "written")
    to_write = {} if invalid else files
    data = _report("run", status, code, result, to_write)
    encoded = report.dumps(data)
    with progress_step(progress, f"writing {len(to_write) + 1} files to {target.label}"):
        written = target.write(to_write, encoded, inputs=_inputs(source, result))
    _extra_report(settings, encoded)
    return Outcome(code, status, result, target.label, written, data)


def execute_check(
    settings: Settings,
    notes: list[Finding],
    *,
    folder: Folder | None = None,
    clients: Clients | None = None,
    progress: Progress | None = None,
) -> Outcome:
    """The same gather as `run`, writing nothing: 0 when no error finding remains, else 3."""
    source = folder or open_folder(settings, clients)
    agent = f"gather-job/{__version__}"
    result = gather(settings, notes=notes, folder=source, user_agent=agent, mode="check", progress=progress)
    code = 3 if result.findings.has_errors else 0
    return Outcome(code, "checked", result, None, [], _report("check", "checked", code, result, {}))


def progress_step(progress: Progress | None, text: str) -> Any:
    return (progress or Progress(None)).step(text)
