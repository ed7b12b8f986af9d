"""A TCP proxy on 127.0.0.1 that delays every reply of the server behind it.

A first import from the test Dovecot takes a fraction of a second; behind this proxy each IMAP
reply waits ``delay`` seconds, so the import lasts long enough for a browser to watch it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

from tests.servers.loopback import LoopbackServer


class SlowProxy(LoopbackServer):
    """Forwards connections to ``target``; what the target sends back is held ``delay`` s."""

    def __init__(self, target_host: str, target_port: int, *, delay: float) -> None:
        super().__init__()
        self.target = (target_host, target_port)
        self.delay = delay

    def handle(self, conn: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            conn.close()
            return
        upstream.settimeout(None)
        self._connections.append(upstream)
        for source, sink, delay in ((conn, upstream, 0.0), (upstream, conn, self.delay)):
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
