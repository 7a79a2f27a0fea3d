"""The service requests of one gather: started as early as their keys are known, answered when needed.

Requests run concurrently in the service client's pool while the models import and the files are
validated; a stage asks for an answer only when it needs it. `answer` raises the ServiceError of a
request that kept failing (the run ends with exit 4); `outcome` hands it back instead, for lookups
whose failure is a finding (enrichment) or needs a second look (a subject 500).
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass

from gather_job.errors import ServiceError
from gather_job.service import Answer, MetadataService, redact_url


@dataclass(frozen=True)
class Pending:
    key: str
    url: str
    future: Future[Answer]


class Lookups:
    """Pending requests by name (usually the endpoint kind), and every URL asked, for the report."""

    def __init__(self, service: MetadataService | None) -> None:
        self.service = service
        self.pending: dict[str, Pending] = {}
        self.calls: list[str] = []

    @property
    def online(self) -> bool:
        return self.service is not None

    def start(self, kind: str, key: str, query: Mapping[str, str] | None = None, *, name: str | None = None) -> None:
        """Ask now (replacing an earlier request of the same name, e.g. for another subject_id)."""
        if self.service is None:
            return
        url = redact_url(self.service.url(kind, key, query))
        name = name or kind
        current = self.pending.get(name)
        if current is not None and current.url == url:
            return
        self.pending[name] = Pending(key, url, self.service.submit(kind, key, query))
        self.calls.append(url)

    def asked(self, name: str) -> bool:
        return name in self.pending

    def answer(self, name: str) -> tuple[str, Answer] | None:
        """(key, answer) of a request, None if it was never made; raises ServiceError if it failed."""
        pending = self.pending.get(name)
        if pending is None:
            return None
        return pending.key, pending.future.result()

    def outcome(self, name: str) -> tuple[str, str, Answer | ServiceError] | None:
        """(key, url, answer or the ServiceError it failed with), None if it was never made."""
        pending = self.pending.get(name)
        if pending is None:
            return None
        try:
            return pending.key, pending.url, pending.future.result()
        except ServiceError as exc:
            return pending.key, pending.url, exc
