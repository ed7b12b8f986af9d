"""The scaffolding of a small TCP server on 127.0.0.1 for tests: listen, accept in a thread,
hand each connection to the subclass, and tear everything down on exit."""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType
from typing import Self


class LoopbackServer:
    """Accepts connections on a free loopback port; ``handle(conn)`` does the rest."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self._stop = threading.Event()
        self._connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def port(self) -> int:
        """The port the server listens on."""
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
        for conn in list(self._connections):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        self._thread.join()
        self._server.close()

    def handle(self, conn: socket.socket) -> None:
        """Take over an accepted connection (runs on the accepting thread: return quickly)."""
        raise NotImplementedError

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            self._connections.append(conn)
            self.handle(conn)
