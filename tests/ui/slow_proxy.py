"""A TCP proxy on 127.0.0.1 that delays every reply of the server behind it.

A first import from the test Dovecot takes a fraction of a second; behind this proxy each IMAP
reply waits ``delay`` seconds, so the import lasts long enough for a browser to watch it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from types import TracebackType
from typing import Self


class SlowProxy:
    """Forwards connections to ``target``; what the target sends back is held ``delay`` s."""

    def __init__(self, target_host: str, target_port: int, *, delay: float) -> None:
        self.target = (target_host, target_port)
        self.delay = delay
        self._server = socket.create_server(("127.0.0.1", 0))
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def port(self) -> int:
        """The port the proxy listens on."""
        port: int = self._server.getsockname()[1]
        return port

    def __enter__(self) -> Self:
        self._server.settimeout(0.1)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        for sock in list(self._sockets):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self._server.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            self._sockets += [client, upstream]
            for source, sink, delay in ((client, upstream, 0.0), (upstream, client, self.delay)):
                threading.Thread(target=self._pump, args=(source, sink, delay), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, delay: float) -> None:
        with contextlib.suppress(OSError):
            while not self._stop.is_set():
                data = source.recv(65536)
                if not data:
                    break
                if delay:
                    time.sleep(delay)
                sink.sendall(data)
        # One side ended: end the other, as a plain TCP path would.
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
