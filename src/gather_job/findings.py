"""Findings are data: every stage appends them to one collector, nothing raises one by one.

A finding has a stable dotted id (documented in the README), a severity, the file(s) it is about, a
JSON location inside the file, a message, the offending value and a hint that says how to fix it.
The exit code is decided once, at the end, from the collected severities.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

MAX_VALUE_CHARS = 200
# A core file the run cannot make: the one error raise_if_invalid=false does not write past.
UNWRITABLE = "gather.output.missing_core_file"


class Severity(enum.Enum):
    """Ordered most severe first, so sorting by `rank` puts errors on top."""

    error = "error"
    warning = "warning"
    info = "info"

    @property
    def rank(self) -> int:
        return ("error", "warning", "info").index(self.value)


def short_value(value: Any) -> Any:
    """Keep a finding small and JSON-safe: long or nested values become a truncated JSON string."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        # a huge integer the schema refused would be shown whole (and past 4,300 digits, str() raises)
        if value.bit_length() > 14_000:
            return f"an integer of about {int(value.bit_length() * 0.30103)} digits"
        text = str(value)
        return f"{text[:20]}... (an integer of {len(text.lstrip('-'))} digits)"
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    if len(text) > MAX_VALUE_CHARS:
        return text[: MAX_VALUE_CHARS - 3] + "..."
    return value if isinstance(value, str) else json.loads(text)


@dataclass(frozen=True)
class Finding:
    """One problem (or note) about the asset's metadata."""

    id: str
    severity: Severity
    message: str
    files: tuple[str, ...] = ()
    location: str | None = None
    value: Any = None
    hint: str | None = None
    context: str | None = None  # lines to show as they are, e.g. the offending JSON line with a caret

    def to_json(self) -> dict[str, Any]:
        shown = {
            "id": self.id,
            "severity": self.severity.value,
            "files": list(self.files),
            "location": self.location,
            "message": self.message,
            "value": self.value,
            "hint": self.hint,
        }
        return {**shown, "context": self.context} if self.context else shown


@dataclass
class Findings:
    """An ordered, de-duplicated collection of findings."""

    items: list[Finding] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set, repr=False, compare=False)

    def _keep(self, finding: Finding) -> None:
        key = json.dumps(finding.to_json(), sort_keys=True, default=str)  # values may be lists: not hashable
        if key not in self._seen:
            self._seen.add(key)
            self.items.append(finding)

    def add(
        self,
        id: str,
        severity: Severity,
        message: str,
        *,
        files: Iterable[str] = (),
        location: str | None = None,
        value: Any = None,
        hint: str | None = None,
        context: str | None = None,
    ) -> Finding:
        found = Finding(id, severity, message, tuple(files), location, short_value(value), hint, context)
        self._keep(found)
        return found

    def error(self, id: str, message: str, **kwargs: Any) -> Finding:
        return self.add(id, Severity.error, message, **kwargs)

    def warning(self, id: str, message: str, **kwargs: Any) -> Finding:
        return self.add(id, Severity.warning, message, **kwargs)

    def info(self, id: str, message: str, **kwargs: Any) -> Finding:
        return self.add(id, Severity.info, message, **kwargs)

    def extend(self, other: Iterable[Finding]) -> None:
        for item in other:
            self._keep(item)

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.items if f.severity is severity)

    @property
    def has_errors(self) -> bool:
        return any(f.severity is Severity.error for f in self.items)

    @property
    def block_writing(self) -> bool:
        """An error that stops a run even with raise_if_invalid=false: a core file it cannot make."""
        return any(f.severity is Severity.error and f.id == UNWRITABLE for f in self.items)

    def sorted(self) -> list[Finding]:
        """Errors first, then by file, keeping the order of discovery within a group."""
        order = {id(f): i for i, f in enumerate(self.items)}
        return sorted(self.items, key=lambda f: (f.severity.rank, f.files, order[id(f)]))
