"""A real-HTTP stand-in for aind-metadata-service (API v2), standard library only.

Serves canned routes on 127.0.0.1 from a background thread, records every request and can inject
latency and faults, so an HTTP client can be tested end to end without patching ``requests``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import socketserver
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, unquote

FAULT_KINDS = frozenset({"status", "hang", "slow_body", "truncate", "reset", "html", "bad_json"})
HTML_PAGE = b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>\n"
NOT_FOUND = b'{"detail": "Not found"}'


@dataclass
class Route:
    """A canned answer: ``body`` is JSON-serialised unless ``raw`` (exact bytes) is given."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    content_type: str = "application/json"

    def payload(self) -> bytes:
        """The exact body bytes sent (empty for a bodiless 204/304)."""
        if self.raw is not None:
            return self.raw
        if self.body is None and self.status in (204, 304):
            return b""
        return json.dumps(self.body).encode("utf-8")


@dataclass
class Fault:
    """What to do to the next ``times`` requests of a path (applied before the route)."""

    kind: str
    times: int = 1
    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {sorted(FAULT_KINDS)}")
        if self.times < 1:
            raise ValueError("Fault.times must be >= 1")


class RequestRecord(NamedTuple):
    """One request as received (``path`` decoded and prefix-stripped; header names lower-cased)."""

    method: str
    raw_path: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    time: float
    connection_id: int


def _normalize(path: str) -> str:
    return path.rstrip("/") or "/"


def _merge(base: dict[str, str], extra: dict[str, str]) -> dict[str, str]:
    """Overlay ``extra`` on ``base``, matching header names case-insensitively."""
    out = {k: v for k, v in base.items() if k.lower() not in {e.lower() for e in extra}}
    return out | extra


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128
    service: FakeMetadataService

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # skip HTTPServer's getfqdn(): slow reverse DNS
        self.server_name, self.server_port = "127.0.0.1", int(self.server_address[1])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection_id = self.server.service._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.service._track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet."""

    def do_GET(self) -> None:
        try:
            self._serve()
        except OSError:  # the client went away, or stop() shut the socket
            self.close_connection = True

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _serve(self) -> None:
        svc = self.server.service
        if length := int(self.headers.get("Content-Length") or 0):
            self.rfile.read(length)
        self.close_connection |= "Transfer-Encoding" in self.headers  # unread chunked body
        words = self.requestline.split()
        raw = words[1] if len(words) >= 2 else self.path
        path_part, _, query = raw.split("#")[0].partition("?")
        key, routed = svc._strip_prefix(_normalize(unquote(path_part)))
        params = dict(parse_qsl(query, keep_blank_values=True))
        headers = {k.lower(): v for k, v in self.headers.items()}
        now = time.monotonic()
        latency = svc._record(RequestRecord(self.command, raw, key, params, headers, now, self.connection_id))
        if self.command != "GET":
            self._send(405, b'{"detail": "Method not allowed"}', {"Allow": "GET"})
            return
        if latency > 0 and svc._stopping.wait(latency):
            self.close_connection = True
            return
        fault, route = svc._lookup(key, routed)
        if fault is None:
            self._send(route.status, route.payload(), route.headers, route.content_type)
        else:
            self._fault(fault, route)

    def _head(self, status: int, length: int, extra: dict[str, str], ctype: str) -> None:
        self.send_response(status)  # also sends Server and Date
        for name, value in _merge({"Content-Type": ctype, "Content-Length": str(length)}, extra).items():
            self.send_header(name, value)
        self.end_headers()

    def _send(self, status: int, body: bytes, extra: dict[str, str], ctype: str = "application/json") -> None:
        self._head(status, len(body), extra, ctype)
        if self.command != "HEAD":
            self.wfile.write(body)

    def _fault(self, fault: Fault, route: Route) -> None:
        stopping, body = self.server.service._stopping, route.payload()
        extra = _merge(route.headers, fault.headers)
        if fault.kind in ("hang", "truncate", "reset"):
            self.close_connection = True
        if fault.kind == "status":
            detail = json.dumps({"detail": f"Injected fault: HTTP {fault.status}"}).encode()
            self._send(fault.status, detail, fault.headers)
        elif fault.kind == "hang":
            stopping.wait(fault.seconds if fault.seconds > 0 else None)
        elif fault.kind == "slow_body":
            self._head(route.status, len(body), extra, route.content_type)
            for i in range(len(body)):
                self.wfile.write(body[i : i + 1])
                if i + 1 < len(body) and stopping.wait(fault.seconds):
                    self.close_connection = True
                    return
        elif fault.kind == "truncate":
            body = body if len(body) >= 2 else b'{"detail": "truncated"}'
            self._head(route.status, len(body), extra, route.content_type)
            self.wfile.write(body[: len(body) // 2])
        elif fault.kind == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            os.close(self.connection.detach())  # linger 0 + close = RST, skipping shutdown()'s FIN
        elif fault.kind == "html":
            self._send(200, HTML_PAGE, fault.headers, "text/html; charset=utf-8")
        else:  # bad_json
            cut = body[: len(body) // 2]
            with contextlib.suppress(ValueError):
                json.loads(cut)
                cut = b'{"data": {"trunc'  # half of the body happened to be valid JSON
            self._send(200, cut, fault.headers)


class FakeMetadataService:
    """A threaded HTTP/1.1 (keep-alive) fake of aind-metadata-service on 127.0.0.1."""

    def __init__(
        self, routes: dict[str, Route] | None = None, latency: float = 0.0, prefix: str = "", port: int = 0
    ) -> None:
        self._lock = threading.Lock()
        self._routes = {_normalize(p): r for p, r in (routes or {}).items()}
        self._latency = latency
        self._path_latency: dict[str, float] = {}
        self._faults: dict[str, deque[list[Any]]] = {}  # path -> [[fault, remaining], ...]
        self._records: list[RequestRecord] = []
        self._sockets: set[socket.socket] = set()
        self._connections = 0
        self._prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
        self._port = port
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL without the prefix, e.g. ``http://127.0.0.1:PORT``."""
        if self._server is None:
            raise RuntimeError("FakeMetadataService is not started")
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> FakeMetadataService:
        """Bind a port and serve from a daemon thread."""
        if self._server is not None:
            raise RuntimeError("FakeMetadataService is already started")
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", self._port), _Handler)
        self._server.service = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: wake hung/slow handlers and shut open connections. Idempotent, fast."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread:
            self._thread.join(timeout=1.0)

    def __enter__(self) -> FakeMetadataService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add(self, path: str, route: Route) -> None:
        """Add or replace the route for a (decoded, prefix-less) path."""
        with self._lock:
            self._routes[_normalize(path)] = route

    def set_latency(self, seconds: float, path: str | None = None) -> None:
        """Delay before answering, for every path or for one path (which overrides the global one)."""
        with self._lock:
            if path is None:
                self._latency = seconds
            else:
                self._path_latency[_normalize(path)] = seconds

    def inject(self, path: str, fault: Fault) -> None:
        """Queue a fault for a path (``"*"`` = any path; a path's own queue is used first)."""
        with self._lock:
            self._faults.setdefault(_normalize(path), deque()).append([fault, fault.times])

    def clear_faults(self) -> None:
        """Drop every queued fault."""
        with self._lock:
            self._faults.clear()

    def count(self, path: str | None = None) -> int:
        """Requests received, for one (decoded, prefix-less) path or in total."""
        with self._lock:
            if path is None:
                return len(self._records)
            return sum(1 for r in self._records if r.path == _normalize(path))

    @property
    def requests(self) -> list[RequestRecord]:
        """A snapshot of the requests received so far, in arrival order."""
        with self._lock:
            return list(self._records)

    def reset_counts(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self._records.clear()

    def _track(self, sock: socket.socket, opened: bool) -> int:
        with self._lock:
            if not opened:
                self._sockets.discard(sock)
                return 0
            self._sockets.add(sock)
            self._connections += 1
            return self._connections

    def _strip_prefix(self, path: str) -> tuple[str, bool]:
        if not self._prefix:
            return path, True
        if path == self._prefix or path.startswith(self._prefix + "/"):
            return _normalize(path[len(self._prefix) :]), True
        return path, False

    def _record(self, record: RequestRecord) -> float:
        """Store a request; return the latency that applies to it."""
        with self._lock:
            self._records.append(record)
            return self._path_latency.get(record.path, self._latency)

    def _lookup(self, key: str, routed: bool) -> tuple[Fault | None, Route]:
        """Take the next queued fault (own path, then "*") and find the route (or a 404)."""
        with self._lock:
            fault = None
            for name in (key, "*"):
                if queue := self._faults.get(name):
                    fault = queue[0][0]
                    queue[0][1] -= 1
                    if queue[0][1] <= 0:
                        queue.popleft()
                    break
            route = self._routes.get(key) if routed else None
        return fault, route or Route(404, raw=NOT_FOUND)


def _main(argv: list[str] | None = None) -> None:
    """Serve a JSON routes file ``{path: {"status": 200, "json": ..., "headers": {...}}}``."""
    parser = argparse.ArgumentParser(description="Serve a fake aind-metadata-service.")
    parser.add_argument("routes", help="JSON file mapping path -> {status, json, headers}")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--prefix", default="")
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args(argv)
    with open(args.routes, encoding="utf-8") as fh:
        spec = json.load(fh)
    routes = {p: Route(int(r.get("status", 200)), r.get("json"), dict(r.get("headers", {}))) for p, r in spec.items()}
    with FakeMetadataService(routes, latency=args.latency, prefix=args.prefix, port=args.port) as svc:
        print(f"serving {len(routes)} routes at {svc.url}{svc._prefix} (Ctrl-C to stop)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    _main()
