"""What the metadata service's answer bytes say, as JSON or as the words of an error.

Kept apart from the client (`service.py`, which only moves bytes within deadlines) because every way
a body can be unusable ends here, each as a ServiceError naming the URL: not JSON at all (a proxy's
error page: retry later), or JSON no file could hold (a lone surrogate, an integer past Python's
4,300 digits, nesting past the stack: the record must be corrected at its source). Before this a
lone surrogate in a funding record passed and broke the writing of the outputs (exit 1).
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from gather_job import strict_json
from gather_job.errors import ServiceError
from gather_job.logs import printable, redact

_AT_SOURCE = "The record must be corrected where the service reads it; until then, put the file in the metadata folder."


def decode(body: bytes, status: int, shown: str, content_type: str | None) -> Any:
    """The decoded JSON of an answer about the data; a ServiceError saying why it cannot be used."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        kind = printable(content_type or "unknown content type")
        raise ServiceError(
            f"The metadata service sent HTTP {status} for {shown} with a body that is not JSON "
            f"({kind}, {len(body)} bytes: {snippet(body)!r}).",
            hint="A proxy or error page may be answering instead of the service; retry later.",
        ) from exc
    except (ValueError, RecursionError) as exc:  # an integer of 4,300+ digits, or nested past the stack
        why = "it is nested too deeply" if isinstance(exc, RecursionError) else "it holds an integer too long to read"
        raise ServiceError(
            f"The metadata service sent HTTP {status} for {shown} with JSON that cannot be read: {why}.",
            hint=_AT_SOURCE,
        ) from exc
    if (surrogate := strict_json.lone_surrogate(body, data)) is not None:
        raise ServiceError(
            f"The metadata service sent HTTP {status} for {shown} with JSON that {surrogate.text}.", hint=_AT_SOURCE
        )
    return data


def detail(body: bytes) -> str:
    """The `detail` of a JSON error body, else its first bytes: redacted, control characters escaped."""
    data = None
    with contextlib.suppress(ValueError, RecursionError):
        data = json.loads(body)
    said = data["detail"] if isinstance(data, dict) and "detail" in data else None
    return snippet(body) if said is None else printable(redact(str(said)))[:300]


def snippet(body: bytes) -> str:
    return printable(redact(body[:80].decode("utf-8", "replace")))
