"""The exit codes and the job's exception tree: one base, one child per exit code.

    GatherError                 (never raised itself)
    ├── UsageError        -> 2  unusable settings or input: bad JSON, unknown field, bad URI
    ├── InvalidMetadata   -> 3  error findings and raise_if_invalid (raised after the report is written)
    ├── ServiceError      -> 4  metadata service, S3 or SSM unreachable or failing after retries
    └── OutputRefused     -> 5  the target already holds an asset and the policy forbids overwriting

Third-party errors (requests, botocore, pydantic, OSError) are wrapped at the module that talks to
them, with the cause attached, so the CLI maps exceptions to exit codes in exactly one place.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gather_job.job import Outcome


class ExitCode(enum.IntEnum):
    """What a run ends with (docs/design.md §2): the pipeline treats anything but OK as FAILED."""

    OK = 0
    BUG = 1
    USAGE = 2
    INVALID = 3
    SERVICE = 4
    REFUSED = 5
    INTERRUPTED = 130
    OUTPUT_CLOSED = 141  # the reader of standard output went away (`| head`): what a shell shows for SIGPIPE


class GatherError(Exception):
    """Base class: `exit_code` is what the CLI returns, `hint` says what to do about it."""

    exit_code: ExitCode = ExitCode.BUG

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message


class UsageError(GatherError):
    """Settings or input the job cannot use at all (exit 2)."""

    exit_code = ExitCode.USAGE


class InvalidMetadata(GatherError, ValueError):
    """Error findings remain and `raise_if_invalid` is true (exit 3); `outcome` is the run's result,
    raised after its report was written, as the reference raises after validating. A ValueError too,
    as the reference's is: code that catches that keeps working."""

    exit_code = ExitCode.INVALID

    def __init__(self, message: str, *, outcome: Outcome, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.outcome = outcome


class ServiceError(GatherError):
    """A remote service could not be reached or kept failing: retry later (exit 4)."""

    exit_code = ExitCode.SERVICE


class OutputRefused(GatherError):
    """The output target already holds an asset and `if_exists` says not to touch it (exit 5)."""

    exit_code = ExitCode.REFUSED


class WriteInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM while the output was being written (exit 130, as any interruption): the files
    there so far are whole (each written atomically), but the report, written last, may be missing."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target
