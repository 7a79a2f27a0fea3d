"""gather-job: gather, merge and validate one data asset's aind-data-schema metadata.

The public surface is small on purpose; the command line (`gather-job`, `python -m gather_job`) is
the main interface. Importing this package loads no aind-data-schema model.
"""

from gather_job.errors import GatherError, InvalidMetadata, OutputRefused, ServiceError, UsageError
from gather_job.findings import Finding, Findings, Severity

# The one place the version is written (pyproject reads it); no importlib.metadata at start-up.
__version__ = "0.1.0"

__all__ = [
    "Finding",
    "Findings",
    "GatherError",
    "InvalidMetadata",
    "OutputRefused",
    "ServiceError",
    "Severity",
    "UsageError",
    "__version__",
]
