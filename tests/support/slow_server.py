"""A raw TCP server on 127.0.0.1 that answers HTTP too slowly to ever finish, standard library only.

The fake metadata service (fake_service.py) speaks proper HTTP and can stall before answering or
trickle a body; this one stalls where requests' per-read timeout never fires: it keeps every read
short, so only a deadline on the whole attempt ends the request. Modes:

- "headers": the status line, then one header line every `interval` seconds, never a blank line;
- "status": the status line itself, one byte every `interval` seconds, forever;
- "chunked": complete headers with `Transfer-Encoding: chunked`, then a one-byte chunk every
  `interval` seconds, never the last chunk.

Each connection is served by its own thread until the client goes away or `stop()`; `paths` lists
the path each connection asked for.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

MODES = ("headers", "status", "chunked")


class TricklingServer:
    """Accepts connections and trickles an HTTP answer that never completes; counts connections."""

    def __init__(self, mode: str = "headers", interval: float = 0.5) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; expected one of {MODES}")
        self.mode = mode
        self.interval = interval
        self.connections = 0
        self.closed_by_client = 0  # connections the client ended (EOF or reset seen while writing)
        self.paths: list[str] = []  # the path of each request, in arrival order
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self._clients: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> TricklingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
            client.close()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._clients.append(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _pieces(self) -> Iterator[bytes]:
        if self.mode == "status":
            yield from (bytes([b]) for b in b"HTTP/1.1 200 OK\r\n")
            while True:
                yield b"X"  # a header name that never ends
        yield b"HTTP/1.1 200 OK\r\n"
        if self.mode == "chunked":
            yield b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            while True:
                yield b"1\r\n \r\n"
        for index in range(10**9):
            yield f"X-Trickle-{index}: 1\r\n".encode()

    def _serve(self, client: socket.socket) -> None:
        client.settimeout(5)
        with contextlib.suppress(OSError):
            words = client.recv(65536).split(b" ", 2)  # the request line is enough
            with self._lock:
                self.paths.append(words[1].decode("ascii", "replace") if len(words) > 1 else "")
            for piece in self._pieces():
                client.sendall(piece)
                if self._stop.wait(self.interval):
                    return
                if _peer_closed(client):
                    with self._lock:
                        self.closed_by_client += 1
                    return


def _peer_closed(client: socket.socket) -> bool:
    """True once the client has shut or closed its end (a read returns EOF at once)."""
    client.setblocking(False)
    try:
        return client.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        client.setblocking(True)
        client.settimeout(5)


def wait_until(predicate: object, timeout: float) -> bool:
    """Poll `predicate()` until true or `timeout` seconds pass."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if callable(predicate) and predicate():
            return True
        time.sleep(0.02)
    return bool(callable(predicate) and predicate())
