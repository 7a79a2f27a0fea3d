"""Client for aind-metadata-service's v2 API (docs/design.md §8).

One pooled session; path parts percent-encoded (dots too, so '..' cannot climb); retries only for
connection errors, timeouts, 429 and 5xx, with backoff, jitter and Retry-After. 400/404/406 are
answers about the data; any other failure is a ServiceError (exit 4), never a silent "nothing found".
Deadlines are real (requests' read timeout is per socket read: a header line a second never ends): an
attempt runs in a thread until min(per-request timeout, what is left of the total), then its sockets
are shut down. Redirects leave neither the configured origin nor loop (the report credits it with
every answer). No aind-data-schema import here, so requests start while the models import."""

from __future__ import annotations

import contextlib
import email.utils
import logging
import random
import socket
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urljoin, urlsplit, urlunsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection

from gather_job import service_body
from gather_job.errors import ServiceError
from gather_job.logs import printable, redact

log = logging.getLogger(__name__)

ANSWERS = (200, 400, 404, 406)  # statuses that carry an answer about the data
MAX_BODY = 64 * 1024 * 1024
CHUNK = 64 * 1024
MAX_REDIRECTS = 3
TOTAL_SETTING = "service_total_timeout_s"
_UNREACHABLE = ("Connection refused", "Name or service not known", "No route to host")
_MARKERS = (*_UNREACHABLE, "Read timed out", "Connection reset")
_NO_NAME_HINT = (
    " Its host name does not resolve here: outside the network it serves, set metadata_service_url, or"
    " offline: true to gather from the folder and the settings alone."
)
_WRONG_SERVICE_HINT = "Set metadata_service_url to the address that answers itself, or fix the redirect on the server."


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


# a URL as it may be shown: no user:password@, no secret-named query value, no #fragment; never raises
redact_url = redact


def quote_part(value: str) -> str:
    """Percent-encode one path segment; encode dots of '.'/'..' so no client normalises them away."""
    encoded = quote(value, safe="")
    if set(value) <= {"."}:
        encoded = encoded.replace(".", "%2E")
    return encoded


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (a number or an HTTP date); None when absent or unreadable."""
    with contextlib.suppress(ValueError):
        return max(0.0, float(value or "x"))
    with contextlib.suppress(TypeError, ValueError, IndexError):
        return max(0.0, email.utils.parsedate_to_datetime(value or "").timestamp() - time.time())
    return None


@dataclass
class _Retryable(Exception):
    reason: str
    retry_after: float | None = None
    status: int | None = None
    unreachable: bool = False  # refused or unknown host: nothing listens there
    deadline: bool = False  # the attempt's time ran out; `get` knows which budget and says so


class ServiceFailed(ServiceError):
    """The service kept failing; `status` is the last HTTP status it answered, if it answered at all."""

    def __init__(self, message: str, *, hint: str | None = None, status: int | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


# -- a deadline per attempt ------------------------------------------------------------------------
@dataclass
class _Attempt:
    """The sockets one attempt opened or reused; once `expired`, each is shut down (ending any read)."""

    sockets: list[socket.socket] = field(default_factory=list)
    expired: bool = False
    answered: bool = False  # the headers came, so a deadline cut the body short
    lock: threading.Lock = field(default_factory=threading.Lock)

    def watch(self, sock: socket.socket | None = None) -> None:
        with self.lock:
            self.sockets += [sock] if sock is not None else []
            doomed, self.sockets = (self.sockets, []) if self.expired else ([], self.sockets)
        for each in doomed:
            with contextlib.suppress(OSError):  # already closed, or a raw socket TLS has taken over
                each.shutdown(socket.SHUT_RDWR)


_CURRENT = threading.local()  # the attempt the running thread works for


def _watch(sock: socket.socket | None) -> None:
    attempt: _Attempt | None = getattr(_CURRENT, "attempt", None)
    if attempt is not None:
        attempt.watch(sock)


class _WatchedHTTPConnection(HTTPConnection):
    """Registers its socket with the running attempt: when opened (plain, or before TLS), and on every use."""

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _watch(sock)
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch(self.sock)
        super().request(*args, **kwargs)


class _WatchedAdapter(HTTPAdapter):
    """requests' adapter, with connection pools whose connections can be shut down at a deadline."""

    class _HTTP(urllib3.HTTPConnectionPool):
        ConnectionCls = _WatchedHTTPConnection

    class _HTTPS(urllib3.HTTPSConnectionPool):
        class ConnectionCls(HTTPSConnection, _WatchedHTTPConnection):  # the raw socket watched until TLS takes it
            pass

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": self._HTTP, "https": self._HTTPS}


def _origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL; ValueError for one that is unusable (bad port, brackets, controls)."""
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        raise ValueError(url)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or (443 if scheme == "https" else 80)


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
        unreachable_hint: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from gather_job.errors import UsageError
        from gather_job.settings.values import shown_url, url_problem

        if problem := url_problem(base_url):
            raise UsageError(
                f"metadata_service_url '{shown_url(base_url)}' in the settings {problem}.",
                hint="Use e.g. http://aind-metadata-service, or set offline: true to skip the service.",
            )
        self.base_url = base_url.rstrip("/")
        self.unreachable_hint = unreachable_hint  # set: an unreachable service fails at once with this hint
        self.endpoints, self.timeouts, self.default_timeout = dict(endpoints), dict(timeouts or {}), default_timeout
        self.policy = policy or RetryPolicy()
        self._own_session = session is None
        self.session = session or requests.Session()
        if self._own_session:
            self.session.trust_env = False  # no proxies or .netrc from the environment: only the settings decide
            for scheme in ("http://", "https://"):
                self.session.mount(scheme, _WatchedAdapter(pool_connections=2, pool_maxsize=8, max_retries=0))
        self.session.headers.update({"User-Agent": user_agent, "Accept": "application/json"})
        self._sleep, self._rng, self._clock = sleep, rng, clock
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="gather-service")
        self._closed = threading.Event()  # a closed service's requests still running stop at their next retry

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
        self._closed.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._own_session:
            self.session.close()

    def get(self, kind: str, key: str, query: Mapping[str, str] | None = None) -> Answer:
        url = self.url(kind, key, query)
        shown, timeout, total = redact_url(url), self.timeouts.get(kind, self.default_timeout), self.policy.total_s
        setting = "service_procedures_timeout_s" if kind == "procedures" else "service_timeout_s"
        deadline, attempt = (start := self._clock()) + total, 0
        while True:
            remaining = deadline - self._clock()
            by_total = remaining < timeout  # this attempt ends when the total budget does
            try:
                return self._bounded(url, shown, max(min(timeout, remaining), 0.001))
            except _Retryable as problem:
                if problem.deadline:  # say which budget ran out
                    what = problem.reason or "no complete answer"
                    problem.reason = what + ("" if by_total else f" within {setting}={timeout:g} s")
                tried = f"{attempt + 1} attempt{'s' if attempt else ''} in {self._clock() - start:.1f} s"
                if problem.unreachable and self.unreachable_hint:  # at a desk: say how to go on, at once
                    raise ServiceFailed(
                        f"The metadata service at {redact_url(self.base_url)} cannot be reached from here "
                        f"({problem.reason}).",
                        hint=self.unreachable_hint,
                    ) from None
                delay = max(self.policy.delay(attempt, self._rng), problem.retry_after or 0.0)
                out = (problem.deadline and by_total) or self._clock() + delay >= deadline
                if self._closed.is_set():  # the job ended (or failed) without this answer: retry no more
                    raise ServiceFailed(f"The request for {shown} was stopped: the job no longer needs it.") from None
                if attempt >= self.policy.retries or out:
                    ending = f"; gave up after {tried}, when {TOTAL_SETTING}={total:g} s ran out" if out else ""
                    raise ServiceFailed(
                        f"The metadata service failed for {shown}: {problem.reason}{ending or f' (after {tried})'}.",
                        hint="The service may be down or overloaded; retry the job later."
                        + (_NO_NAME_HINT if "Name or service not known" in problem.reason else ""),
                        status=problem.status,
                    ) from None
                log.warning("service: %s for %s; retrying in %.2f s", problem.reason, shown, delay)
                self._sleep(delay)
                attempt += 1

    def _bounded(self, url: str, shown: str, budget: float) -> Answer:
        """One attempt, ended at `budget` seconds whatever it is waiting for (name resolution included)."""
        attempt, done = _Attempt(), Future[Answer]()

        def work() -> None:
            _CURRENT.attempt = attempt
            try:
                done.set_result(self._attempt(url, shown, budget))
            except BaseException as exc:  # handed to the caller as it is
                done.set_exception(exc)

        threading.Thread(target=work, name="gather-service-attempt", daemon=True).start()
        if not wait([done], timeout=budget).done:
            attempt.expired = True  # the worker ends once its sockets are shut; nobody waits for it
            attempt.watch()
            raise _Retryable("body not complete" if attempt.answered else "", deadline=True)
        return done.result()

    def _attempt(self, url: str, shown: str, timeout: float) -> Answer:
        started = self._clock()
        hops = [url]
        try:
            while True:
                prepared = self.session.prepare_request(requests.Request("GET", hops[-1]))
                prepared.url = hops[-1]  # as encoded here: requests would decode %2E back into '.'
                left, session = max(timeout - (self._clock() - started), 0.001), self.session
                verify = True if session.verify is None else session.verify
                with session.get_adapter(hops[-1]).send(  # not session.send: it reads a redirect's whole body
                    prepared, True, (min(left, 10.0), left), verify, session.cert, session.proxies
                ) as response:
                    if response.is_redirect:
                        self._chunk(response)  # a small body drained, so the connection is reused, not reset
                        hops.append(self._redirect(hops, response.headers.get("Location", ""), shown))
                        continue
                    return self._answer(response, shown, started, timeout)
        except requests.ConnectTimeout:
            raise _Retryable(f"no connection within {min(timeout, 10.0):g} s") from None
        except requests.Timeout:
            raise _Retryable("", deadline=True) from None
        except requests.ConnectionError as exc:
            reason = _reason(exc)
            raise _Retryable(f"connection failed ({reason})", unreachable=reason in _UNREACHABLE) from None
        except requests.RequestException as exc:
            raise _Retryable(f"request failed ({_reason(exc)})") from None

    def _redirect(self, hops: list[str], location: str, shown: str) -> str:
        """The next URL of a redirect within the service's origin; a ServiceError for any other."""
        try:
            _origin(location)  # urljoin would drop a tab or a newline silently: refused here
            target = urljoin(hops[-1], location)
            elsewhere = _origin(target) != _origin(hops[-1])
        except ValueError:
            raise ServiceError(
                f"The metadata service redirected {shown} to an unusable address ({printable(redact(location))!r}).",
                hint=_WRONG_SERVICE_HINT,
            ) from None
        parts, base = urlsplit(target), urlsplit(hops[-1])
        same = urlunsplit((base.scheme, base.netloc, parts.path, parts.query, ""))  # same origin: same login
        why = "in a loop" if same in hops else f"more than {MAX_REDIRECTS} times" if len(hops) > MAX_REDIRECTS else ""
        if elsewhere:
            why = (
                f"to another host, scheme or port, whose answer the report would credit to {redact_url(self.base_url)}"
            )
        if why:
            trail = " -> ".join(redact_url(u) for u in [*hops, target])
            raise ServiceError(
                f"The metadata service redirected {shown} {why} ({trail}); gather-job does not follow it.",
                hint=_WRONG_SERVICE_HINT,
            )
        log.info("service: %s redirects to %s", shown, redact_url(same))
        return same

    def _answer(self, response: requests.Response, shown: str, started: float, timeout: float) -> Answer:
        status = response.status_code
        _CURRENT.attempt.answered = True  # a deadline from now on cuts the body short
        if status == 429 or status >= 500:
            raise _Retryable(f"HTTP {status}", _retry_after(response.headers.get("Retry-After")), status)
        chunks, size = [], 0  # the body read as it arrives, so a trickling one still meets the deadline
        while chunk := self._chunk(response):
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_BODY:
                raise ServiceError(f"The metadata service sent more than {MAX_BODY} bytes for {shown}.")
            if self._clock() - started > timeout:
                raise _Retryable("body not complete", deadline=True)
        body = b"".join(chunks)
        if status not in ANSWERS:
            raise ServiceError(
                f"The metadata service answered HTTP {status} for {shown}: {service_body.detail(body)}.",
                hint="Check metadata_service_url and the endpoint settings.",
            )
        data = service_body.decode(body, status, shown, response.headers.get("Content-Type"))
        return Answer(shown, status, data, response.headers.get("X-Error-Message"))

    @staticmethod
    def _chunk(response: requests.Response) -> bytes:
        try:
            return bytes(response.raw.read1(CHUNK, decode_content=True))
        except urllib3.exceptions.ReadTimeoutError:
            raise _Retryable("body not complete", deadline=True) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _Retryable(f"connection broke while reading the answer ({_reason(exc)})") from None


def _reason(exc: Exception) -> str:
    return next((marker for marker in _MARKERS if marker in str(exc)), type(exc).__name__)
