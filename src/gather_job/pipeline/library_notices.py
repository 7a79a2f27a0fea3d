"""Turn what aind-data-schema (or a rig mapper) only logs or warns about into findings.

The library reports several real problems (duplicate device names, missing Code versions, deprecated
fields) through `logging` and `warnings` instead of raising. Each model-touching step runs inside
`capture(...)`, which records them as findings attributed to the files being processed.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from gather_job.findings import Findings

LIBRARY_LOGGER = "aind_data_schema"

# Messages our own checks report better (with the files and a hint), and pydantic's notices about
# deprecated attributes that the library itself reads (nothing the user's file can change).
SUPERSEDED = (
    "Instruments should not have duplicated components",
    "Metadata missing required file",
    "Deprecated: use ",
)


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def logged(
    findings: Findings, files: tuple[str, ...], stage: str, text: str, library: str = "aind-data-schema"
) -> None:
    """The finding for something the library logs (or would log) at WARNING or above."""
    findings.warning(
        "gather.library.log",
        f"{library} logged: {text}",
        files=files,
        hint=f"Seen while {stage}; the library does not treat it as an error, check it before upload.",
    )


@contextmanager
def capture(
    findings: Findings, files: tuple[str, ...], stage: str, *, logger_name: str = LIBRARY_LOGGER
) -> Iterator[None]:
    """Record the library's warnings and WARNING+ log records as warning findings."""
    collector = _Collector()
    logger = logging.getLogger(logger_name)
    logger.addHandler(collector)
    old_propagate = logger.propagate
    logger.propagate = False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            logger.removeHandler(collector)
            logger.propagate = old_propagate
    seen = {(f.message, file) for f in findings for file in f.files}

    def fresh(message: str) -> bool:
        """Merging re-validates the parts: a message already reported for one of them is not new."""
        return not message.startswith(SUPERSEDED) and not any((message, file) in seen for file in files)

    library = logger_name.replace("_", "-")
    for record in collector.records:
        message = f"{library} logged: {record.getMessage()}"
        if fresh(record.getMessage()) and fresh(message):
            logged(findings, files, stage, record.getMessage(), library)
    for item in caught:
        message = f"aind-data-schema {item.category.__name__}: {item.message}"
        if fresh(str(item.message)) and fresh(message):
            deprecated = issubclass(item.category, DeprecationWarning)
            findings.warning(
                "gather.library.warning",
                message,
                files=files,
                hint=f"Seen while {stage}; "
                + (
                    "deprecated content still loads today but may not in the next schema version."
                    if deprecated
                    else "check it before upload."
                ),
            )
