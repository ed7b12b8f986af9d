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
from typing import BinaryIO

from tests.servers.loopback import LoopbackServer

_COMMAND = re.compile(rb"^(?P<tag>\S+) (?P<command>UID \S+|\S+)(?: (?P<args>.*))?$", re.I)


class SilentPeer(LoopbackServer):
    """Accepts TCP connections and never sends a byte (no greeting, no TLS handshake)."""

    def __init__(self, *, give_up_after: float = 10.0) -> None:
        super().__init__()
        self.give_up_after = give_up_after

    def handle(self, conn: socket.socket) -> None:
        # Close after a while so that a client without any timeout ends (and fails the test by
        # taking too long) instead of hanging the test run.
        timer = threading.Timer(self.give_up_after, conn.close)
        timer.daemon = True
        timer.start()


FetchScript = Callable[["ImapPeer", BinaryIO, bytes, list[int]], None]


class ImapPeer(LoopbackServer):
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
        super().__init__()
        self.on_fetch = on_fetch
        self.starttls = starttls
        self.give_up_after = give_up_after
        self.commands: list[bytes] = []

    def stall(self) -> None:
        """Send nothing more until the test ends (or ``give_up_after`` passes)."""
        self._stop.wait(self.give_up_after)
        raise ConnectionAbortedError("the peer stops here")

    def handle(self, conn: socket.socket) -> None:
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
