"""gather-job: gather, merge and validate one data asset's aind-data-schema metadata.

    from gather_job import GatherMetadataJob, JobSettings

    outcome = GatherMetadataJob(JobSettings.from_file("job_settings.json")).run_job()

The job, its settings and its outcome are loaded on first use, so `import gather_job` (and the
CLI's --version and --help) import neither pydantic's settings machinery nor any aind-data-schema
model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gather_job.errors import ExitCode, GatherError, InvalidMetadata, OutputRefused, ServiceError, UsageError
from gather_job.findings import Finding, Findings, Severity

if TYPE_CHECKING:
    from gather_job.job import GatherMetadataJob, Outcome
    from gather_job.settings.model import (
        DataDescriptionSettings,
        EnrichmentSettings,
        InstrumentSettings,
        JobSettings,
        SubjectSettings,
    )

# The one place the version is written (pyproject reads it); no importlib.metadata at start-up.
__version__ = "0.1.0"

_LAZY = {
    "GatherMetadataJob": "gather_job.job",
    "Outcome": "gather_job.job",
    "JobSettings": "gather_job.settings.model",
    "DataDescriptionSettings": "gather_job.settings.model",
    "SubjectSettings": "gather_job.settings.model",
    "InstrumentSettings": "gather_job.settings.model",
    "EnrichmentSettings": "gather_job.settings.model",
}

__all__ = [
    "DataDescriptionSettings",
    "EnrichmentSettings",
    "ExitCode",
    "Finding",
    "Findings",
    "GatherError",
    "GatherMetadataJob",
    "InstrumentSettings",
    "InvalidMetadata",
    "JobSettings",
    "Outcome",
    "OutputRefused",
    "ServiceError",
    "Severity",
    "SubjectSettings",
    "UsageError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'gather_job' has no attribute {name!r}")
