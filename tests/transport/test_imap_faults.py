"""IMAP servers that misbehave in ways Dovecot cannot be made to (threats F16, F17).

These tests talk to the scripted peers of ``tests/transport/peers.py``: a server that accepts
TCP and never greets, one that stops in the middle of a literal, one that announces a literal
far larger than the message, and one that leaves BODY[] out of a FETCH reply. Dovecot does
none of these, which is why a fake peer is used here and nowhere else.
"""

from __future__ import annotations

import time
from typing import BinaryIO

import pytest

from mailroom.transport.errors import ConnectFailed, LiteralTooLarge, TransportError
from mailroom.transport.imap import ImapSession, ImapSettings
from tests.transport.peers import ImapPeer, SilentPeer

TIMEOUT = 1.0
# Generous for a loaded 2-core machine, and still far below the peers' 10 s give-up.
MARGIN = 2.0


def _settings(port: int, encryption: str = "none", **kwargs: object) -> ImapSettings:
    return ImapSettings(
        host="127.0.0.1",
        port=port,
        encryption=encryption,
        username="user",
        password="secret",
        timeout=TIMEOUT,
        allowed_hosts=("127.0.0.1",),
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("encryption", ["none", "ssl", "starttls"])
def test_a_server_that_never_greets_fails_within_the_timeout(encryption: str) -> None:
    with SilentPeer() as peer:
        started = time.monotonic()
        with pytest.raises(ConnectFailed) as caught:
            ImapSession(_settings(peer.port, encryption)).__enter__()
        elapsed = time.monotonic() - started
    assert elapsed < TIMEOUT + MARGIN
    assert "in time" in str(caught.value)
    assert caught.value.permanent is False


def test_a_tls_handshake_that_stalls_after_starttls_fails_within_the_timeout() -> None:
    with ImapPeer(starttls=True) as peer:
        started = time.monotonic()
        with pytest.raises(ConnectFailed):
            ImapSession(_settings(peer.port, "starttls")).__enter__()
        elapsed = time.monotonic() - started
    assert elapsed < TIMEOUT + MARGIN


def _stall_mid_literal(peer: ImapPeer, out: BinaryIO, tag: bytes, uids: list[int]) -> None:
    out.write(b"* 1 FETCH (UID 1 BODY[] {100}\r\nFrom: a@b.test\r\n")
    out.flush()
    peer.stall()


def test_a_server_that_stalls_mid_literal_ends_the_fetch_within_the_timeout() -> None:
    with ImapPeer(_stall_mid_literal) as peer:
        session = ImapSession(_settings(peer.port)).__enter__()
        session.examine("INBOX")
        started = time.monotonic()
        with pytest.raises(TransportError) as caught:
            session.fetch([1])
        # The stream is at an unknown point: the session must not be used again.
        with pytest.raises(TransportError):
            session.fetch([1])
        session.close()
        elapsed = time.monotonic() - started
    assert elapsed < TIMEOUT + MARGIN
    assert caught.value.permanent is False


def _huge_literal(peer: ImapPeer, out: BinaryIO, tag: bytes, uids: list[int]) -> None:
    # F17: a hostile server announces ~100 GB; nothing may be allocated for it.
    out.write(b"* 1 FETCH (UID 5 BODY[] {99999999999}\r\nFrom: a@b.test\r\n")
    out.flush()
    peer.stall()


def test_a_literal_over_the_limit_raises_literal_too_large_with_its_size() -> None:
    with ImapPeer(_huge_literal) as peer:
        started = time.monotonic()
        with ImapSession(_settings(peer.port, max_literal=1024 * 1024)) as session:
            session.examine("INBOX")
            with pytest.raises(LiteralTooLarge) as caught:
                session.fetch([5])
        elapsed = time.monotonic() - started
    error = caught.value
    assert (error.size, error.limit, error.uid) == (99999999999, 1024 * 1024, 5)
    assert error.permanent is False
    # Raised as soon as the size is read, without waiting for bytes that never come.
    assert elapsed < TIMEOUT + MARGIN


def test_a_literal_over_the_limit_closes_the_session_so_nothing_reads_a_broken_stream() -> None:
    with (
        ImapPeer(_huge_literal) as peer,
        ImapSession(_settings(peer.port, max_literal=10)) as session,
    ):
        session.examine("INBOX")
        with pytest.raises(LiteralTooLarge):
            session.fetch([5])
        with pytest.raises(TransportError, match="not open"):
            session.examine("INBOX")


RAW = b"From: a@b.test\r\nSubject: hi\r\n\r\nbody\r\n"


def _body_missing_the_first_time(
    peer: ImapPeer, out: BinaryIO, tag: bytes, uids: list[int]
) -> None:
    first_time = sum(b"UID FETCH" in c for c in peer.commands) == 1
    for uid in uids:
        if uid == 2 and first_time:
            # The server answers for UID 2 but leaves its body out.
            out.write(b"* 2 FETCH (UID 2 FLAGS (\\Seen))\r\n")
            continue
        literal = b"{%d}\r\n" % len(RAW) + RAW
        out.write(b"* %d FETCH (UID %d FLAGS () BODY[] " % (uid, uid) + literal + b")\r\n")
    out.write(tag + b" OK fetched\r\n")


def test_a_uid_without_body_is_left_out_and_can_be_fetched_again_alone() -> None:
    with (
        ImapPeer(_body_missing_the_first_time) as peer,
        ImapSession(_settings(peer.port)) as session,
    ):
        session.examine("INBOX")
        fetched = session.fetch([1, 2, 3])
        assert [m.uid for m in fetched] == [1, 3]
        again = session.fetch_one(2)
    assert again is not None
    assert (again.uid, again.raw) == (2, RAW)
