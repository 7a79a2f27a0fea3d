"""A TCP proxy on 127.0.0.1 that cuts connections mid-stream, to break uploads for real, or delays
each request, to give a local S3 server the round trip of a real one."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from types import TracebackType


class CuttingProxy:
    """Forwards to `upstream`; the first `cuts` connections that send more than `after` bytes
    upstream are reset on the spot (as a dropped network would), later ones pass untouched. With
    `delay`, what the client sends waits that long before it goes on (about one round trip a request)."""

    def __init__(self, upstream_port: int, *, after: int = 0, cuts: int = 0, delay: float = 0.0) -> None:
        self.upstream_port = upstream_port
        self.delay = delay
        self.after = after
        self.cuts_left = cuts
        self.cut = 0
        self.connections = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> CuttingProxy:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._listener.close()
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _should_cut(self, sent: int) -> bool:
        with self._lock:
            if sent > self.after and self.cuts_left > 0:
                self.cuts_left -= 1
                self.cut += 1
                return True
            return False

    def _pipe(self, source: socket.socket, target: socket.socket, upward: bool) -> None:
        sent = 0
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if upward and self.delay:
                    time.sleep(self.delay)
                if upward and self._should_cut(sent + len(data)):
                    for sock in (source, target):  # RST, not FIN: the upload is broken, not finished
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        sock.close()
                    return
                target.sendall(data)
                sent += len(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
