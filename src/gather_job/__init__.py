"""gather-job: gather, merge and validate one data asset's aind-data-schema metadata.

The public surface is small on purpose; the command line (`gather-job`, `python -m gather_job`) is
the main interface. Importing this package loads no aind-data-schema model.
"""

from importlib.metadata import PackageNotFoundError, version

from gather_job.errors import GatherError, InvalidMetadata, OutputRefused, ServiceError, UsageError
from gather_job.findings import Finding, Findings, Severity

try:
    __version__ = version("gather-job")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

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
