"""Client for aind-metadata-service's v2 API (docs/design.md §8).

One pooled `requests.Session`; path parts percent-encoded (dots too, so '..' cannot climb); any path
prefix of the base URL kept; retries only for connection errors, timeouts, 429 and 5xx, with
exponential backoff, jitter and Retry-After, inside a bounded total time per request. 400/404/406
are answers about the data and come back as `Answer`s; anything else that fails is a ServiceError
(exit 4), never a silent "nothing found". This module does not import aind-data-schema, so requests
can start while the models are still importing.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter

from gather_job.errors import ServiceError

log = logging.getLogger(__name__)

ANSWERS = (200, 400, 404, 406)  # statuses that carry an answer about the data
MAX_BODY = 64 * 1024 * 1024
CHUNK = 64 * 1024


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: `retries` after the first attempt, all within `total_s`."""

    retries: int = 3
    backoff_s: float = 0.5
    backoff_max_s: float = 8.0
    total_s: float = 110.0

    def delay(self, attempt: int, rng: Callable[[], float]) -> float:
        """Equal jitter: half the exponential step fixed, half random."""
        step = min(self.backoff_max_s, self.backoff_s * 2.0**attempt)
        return step / 2 + rng() * step / 2


@dataclass(frozen=True)
class Answer:
    """A status the job interprets itself, with the decoded JSON body."""

    url: str
    status: int
    body: Any
    error_message: str | None = None

    @property
    def detail(self) -> str:
        if isinstance(self.body, dict) and "detail" in self.body:
            return str(self.body["detail"])
        return f"HTTP {self.status}"


def redact_url(url: str) -> str:
    """Drop user:password@ from a URL before it goes into a message or report."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme, f"***@{host}", parts.path, parts.query, parts.fragment))


def quote_part(value: str) -> str:
    """Percent-encode one path segment; encode dots of '.'/'..' so no client normalises them away."""
    encoded = quote(value, safe="")
    if set(value) <= {"."}:
        encoded = encoded.replace(".", "%2E")
    return encoded


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        if parsed is None:
            return None
        return max(0.0, parsed.timestamp() - time.time())


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.status = status


class ServiceFailed(ServiceError):
    """The service kept failing; `status` is the last HTTP status it answered, if it answered at all."""

    def __init__(self, message: str, *, hint: str | None = None, status: int | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class MetadataService:
    """The service at `base_url`; `endpoints` maps a kind ('subject', ...) to its path."""

    def __init__(
        self,
        base_url: str,
        endpoints: Mapping[str, str],
        *,
        timeouts: Mapping[str, float] | None = None,
        default_timeout: float = 30.0,
        policy: RetryPolicy | None = None,
        session: requests.Session | None = None,
        user_agent: str = "gather-job",
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            from gather_job.errors import UsageError

            raise UsageError(
                f"metadata_service_url '{redact_url(base_url)}' in the settings is not an http(s) URL.",
                hint="Use e.g. http://aind-metadata-service, or set offline: true to skip the service.",
            )
        self.base_url = base_url.rstrip("/")
        self.endpoints = dict(endpoints)
        self.timeouts = dict(timeouts or {})
        self.default_timeout = default_timeout
        self.policy = policy or RetryPolicy()
        self._own_session = session is None
        self.session = session or requests.Session()
        if self._own_session:
            self.session.trust_env = False  # no proxies or .netrc from the environment: only the settings decide
            adapter = HTTPAdapter(pool_connections=2, pool_maxsize=8, max_retries=0)
            self.session.mount("http://", adapter)
            self.session.mount("https://", adapter)
        self.session.headers.update({"User-Agent": user_agent, "Accept": "application/json"})
        self._sleep = sleep
        self._rng = rng
        self._clock = clock
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="gather-service")

    def url(self, kind: str, key: str, query: Mapping[str, str] | None = None) -> str:
        """The endpoint's URL for `key`: a path part, or (with `query`) the endpoint with a query string."""
        path = f"{self.base_url}/{self.endpoints[kind].strip('/')}"
        if key:
            path += f"/{quote_part(key)}"
        return f"{path}?{urlencode(query, quote_via=quote)}" if query else path

    def submit(self, kind: str, key: str, query: Mapping[str, str] | None = None) -> Future[Answer]:
        """Start a request in the background; the Future raises ServiceError when it fails."""
        return self._pool.submit(self.get, kind, key, query)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._own_session:
            self.session.close()

    def get(self, kind: str, key: str, query: Mapping[str, str] | None = None) -> Answer:
        url = self.url(kind, key, query)
        shown = redact_url(url)
        timeout = self.timeouts.get(kind, self.default_timeout)
        start = self._clock()
        deadline = start + self.policy.total_s
        attempt = 0
        while True:
            remaining = deadline - self._clock()
            try:
                return self._attempt(url, shown, min(timeout, max(remaining, 0.001)))
            except _Retryable as problem:
                waited = self._clock() - start
                if attempt >= self.policy.retries:
                    raise ServiceFailed(
                        f"The metadata service failed for {shown}: {problem.reason} "
                        f"(after {attempt + 1} attempts in {waited:.1f} s).",
                        hint="The service may be down or overloaded; retry the job later.",
                        status=problem.status,
                    ) from None
                delay = self.policy.delay(attempt, self._rng)
                if problem.retry_after is not None:
                    delay = max(delay, problem.retry_after)
                if self._clock() + delay >= deadline:
                    raise ServiceFailed(
                        f"The metadata service failed for {shown}: {problem.reason}; "
                        f"gave up after {waited:.1f} s (service_total_timeout_s={self.policy.total_s:g}).",
                        hint="The service may be down or overloaded; retry the job later.",
                        status=problem.status,
                    ) from None
                log.warning("service: %s for %s; retrying in %.2f s", problem.reason, shown, delay)
                self._sleep(delay)
                attempt += 1

    def _attempt(self, url: str, shown: str, timeout: float) -> Answer:
        started = self._clock()
        try:
            prepared = self.session.prepare_request(requests.Request("GET", url))
            prepared.url = url  # as encoded here: requests would decode %2E back into '.'
            with self.session.send(prepared, timeout=(min(timeout, 10.0), timeout), stream=True) as response:
                status = response.status_code
                if status == 429 or status >= 500:
                    raise _Retryable(f"HTTP {status}", _retry_after(response.headers.get("Retry-After")), status)
                body = self._read(response, started, timeout)
                if status not in ANSWERS:
                    raise ServiceError(
                        f"The metadata service answered HTTP {status} for {shown}: {_detail(body)}.",
                        hint="Check metadata_service_url and the endpoint settings.",
                    )
                try:
                    data = json.loads(body)
                except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                    kind = response.headers.get("Content-Type", "unknown content type")
                    raise ServiceError(
                        f"The metadata service sent HTTP {status} for {shown} with a body that is not JSON "
                        f"({kind}, {len(body)} bytes: {_snippet(body)!r}).",
                        hint="A proxy or error page may be answering instead of the service; retry later.",
                    ) from exc
                return Answer(shown, status, data, response.headers.get("X-Error-Message"))
        except requests.Timeout:
            raise _Retryable(f"no answer within {timeout:g} s") from None
        except requests.ConnectionError as exc:
            raise _Retryable(f"connection failed ({_reason(exc)})") from None
        except requests.RequestException as exc:
            raise _Retryable(f"request failed ({_reason(exc)})") from None

    def _read(self, response: requests.Response, started: float, timeout: float) -> bytes:
        """Read the body in pieces as they arrive, so a trickling body still meets the deadline."""
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                chunk = response.raw.read1(CHUNK, decode_content=True)
            except urllib3.exceptions.ReadTimeoutError:
                raise _Retryable(f"body not complete within {timeout:g} s") from None
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise _Retryable(f"connection broke while reading the answer ({_reason(exc)})") from None
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_BODY:
                raise ServiceError(f"The metadata service sent more than {MAX_BODY} bytes for {response.url}.")
            if self._clock() - started > timeout:
                raise _Retryable(f"body not complete within {timeout:g} s")
        return b"".join(chunks)


def _detail(body: bytes) -> str:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return _snippet(body)
    if isinstance(data, dict) and "detail" in data:
        return str(data["detail"])
    return _snippet(body)


def _snippet(body: bytes) -> str:
    return body[:80].decode("utf-8", "replace")


def _reason(exc: Exception) -> str:
    text = str(exc)
    for marker in ("Connection refused", "Read timed out", "Connection reset", "Name or service not known"):
        if marker in text:
            return marker
    return type(exc).__name__
