"""Scripted misbehaving servers on 127.0.0.1, for what Dovecot and aiosmtpd cannot be made to do.

A real server never stays silent after accepting a connection, never stops in the middle of a
literal, and never announces a literal bigger than the message it holds; these peers do, so the
transport's timeouts and limits can be tested. Every other behaviour is tested against Dovecot
and aiosmtpd.

Each peer serves connections in a background thread. A peer that is told to stall waits until
the test ends (or ``give_up_after`` seconds pass), so a client without a timeout makes the test
fail by taking too long instead of hanging the suite.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Callable
from types import TracebackType
from typing import BinaryIO, Self

_COMMAND = re.compile(rb"^(?P<tag>\S+) (?P<command>UID \S+|\S+)(?: (?P<args>.*))?$", re.I)


class SilentPeer:
    """Accepts TCP connections and never sends a byte (no greeting, no TLS handshake)."""

    def __init__(self, *, give_up_after: float = 10.0) -> None:
        self.give_up_after = give_up_after
        self._server = socket.create_server(("127.0.0.1", 0))
        self._stop = threading.Event()
        self._connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def port(self) -> int:
        """The port the peer listens on."""
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
        for conn in self._connections:
            conn.close()
        self._server.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            self._connections.append(conn)
            # Close after a while so that a client without any timeout ends (and fails the
            # test by taking too long) instead of hanging the test run.
            timer = threading.Timer(self.give_up_after, conn.close)
            timer.daemon = True
            timer.start()


FetchScript = Callable[["ImapPeer", BinaryIO, bytes, list[int]], None]


class ImapPeer:
    """A minimal IMAP4rev1 server answering CAPABILITY, LOGIN, EXAMINE, NOOP and LOGOUT.

    ``UID FETCH`` is handed to ``on_fetch(peer, out, tag, uids)``, which writes whatever the
    test needs to ``out`` (a buffered writer, flushed after the call): a truncated literal, a
    huge announced literal, a reply without BODY[]. ``stall()`` blocks the server until the
    test ends. ``starttls=True`` offers STARTTLS and, once it is asked for, goes silent (the TLS
    handshake never completes).
    """

    def __init__(
        self,
        on_fetch: FetchScript | None = None,
        *,
        starttls: bool = False,
        give_up_after: float = 10.0,
    ) -> None:
        self.on_fetch = on_fetch
        self.starttls = starttls
        self.give_up_after = give_up_after
        self.commands: list[bytes] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self._stop = threading.Event()
        self._connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def port(self) -> int:
        """The port the peer listens on."""
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

    def stall(self) -> None:
        """Send nothing more until the test ends (or ``give_up_after`` passes)."""
        self._stop.wait(self.give_up_after)
        raise ConnectionAbortedError("the peer stops here")

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            self._connections.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError), conn, conn.makefile("rb") as inp:
            out = conn.makefile("wb")
            out.write(b"* OK fake IMAP server ready\r\n")
            out.flush()
            while not self._stop.is_set():
                line = inp.readline()
                if not line:
                    return
                match = _COMMAND.match(line.rstrip(b"\r\n"))
                if match is None:
                    out.write(b"* BAD what?\r\n")
                    out.flush()
                    continue
                self.commands.append(line)
                if not self._answer(out, match["tag"], match["command"].upper(), match["args"]):
                    return

    def _answer(self, out: BinaryIO, tag: bytes, command: bytes, args: bytes | None) -> bool:
        """Answer one command; False when the conversation is over."""
        if command == b"CAPABILITY":
            starttls = b" STARTTLS" if self.starttls else b""
            out.write(b"* CAPABILITY IMAP4rev1" + starttls + b"\r\n")
        elif command == b"STARTTLS":
            out.write(tag + b" OK begin TLS now\r\n")
            out.flush()
            self.stall()
        elif command in (b"EXAMINE", b"SELECT"):
            out.write(
                b"* 3 EXISTS\r\n* 0 RECENT\r\n* FLAGS (\\Seen)\r\n"
                b"* OK [UIDVALIDITY 7] UIDs valid\r\n* OK [UIDNEXT 4] next\r\n"
            )
            out.write(tag + b" OK [READ-ONLY] done\r\n")
            out.flush()
            return True
        elif command == b"UID FETCH" and self.on_fetch is not None:
            uid_set = (args or b"").split(b" ", 1)[0]
            uids = [int(part) for part in uid_set.split(b",") if part.isdigit()]
            self.on_fetch(self, out, tag, uids)
            out.flush()
            return True
        elif command == b"LOGOUT":
            out.write(b"* BYE bye\r\n" + tag + b" OK done\r\n")
            out.flush()
            return False
        out.write(tag + b" OK done\r\n")
        out.flush()
        return True
