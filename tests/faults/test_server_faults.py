"""What the IMAP server does to us (threats.md §4.1 F02, F04, F08, F09, F10, F12, F13, F15,
F16), against a real Dovecot.

Faults are made the way they happen in production: another IMAP session flags or expunges
mail, ``doveadm kick`` cuts a session mid-FETCH, the server is stopped, the per-user connection
limit is reached. Only the moment is chosen, by a hook where IMAP commands leave the process
or by wrapping our own code (the literal reader, the parser), never by replacing the server.
F16 needs a server that accepts TCP and then stays silent, which Dovecot cannot be made to do;
it uses the scripted peers of ``tests/transport/peers.py``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any, BinaryIO

import pytest
from django.db import connection
from django.utils import timezone

from mailroom import conf
from mailroom.models import (
    Alert,
    Folder,
    Mailbox,
    MailboxStatus,
    Message,
    ProcessingRecord,
    ProcessingState,
)
from mailroom.sync import mailbox as mailbox_sync
from mailroom.tasks import jobs
from mailroom.transport import imap as imap_transport
from tests.faults.helpers import (
    BODIES_FETCH,
    SIZES_FETCH,
    before_imap_command,
    create_mailbox,
    customer_mail,
    ended_sessions,
    open_alerts,
    row_counts,
    sync_failing,
    sync_once,
)
from tests.servers.dovecot import DovecotServer
from tests.servers.fixtures import ImapAccount
from tests.transport.peers import ImapPeer, SilentPeer

pytestmark = pytest.mark.django_db

USER = "faults@example.test"
PASSWORD = "faults-pw-1"


@pytest.fixture
def own_dovecot() -> Iterator[Callable[..., DovecotServer]]:
    """Private Dovecot servers, for faults that would disturb the session's shared one
    (stopping it, a low connection limit)."""
    started: list[DovecotServer] = []

    def start(**knobs: Any) -> DovecotServer:
        server = DovecotServer(**knobs)
        server.start()
        started.append(server)
        server.add_user(USER, PASSWORD)
        return server

    yield start
    for server in started:
        server.stop()


def _uids(mailbox: Mailbox) -> list[int]:
    return sorted(Message.objects.filter(mailbox=mailbox).values_list("uid", flat=True))


def _inbox(mailbox: Mailbox) -> Folder:
    return mailbox.folders.get(name="INBOX")


# -- F02: \Seen is never the cursor --------------------------------------------------------


def test_mail_someone_already_read_is_ingested_and_flags_stay_as_they_were(
    make_mailbox: Callable[..., Mailbox], imap_account: ImapAccount
) -> None:
    mailbox = make_mailbox()
    read_uid = imap_account.append("INBOX", customer_mail(1))
    unread_uid = imap_account.append("INBOX", customer_mail(2))
    # A colleague reads the first mail in webmail before mailroom syncs.
    colleague = imap_account.client()
    try:
        colleague.select_folder("INBOX")
        colleague.add_flags([read_uid], [b"\\Seen"])
    finally:
        colleague.logout()

    sync_once()

    assert _uids(mailbox) == [read_uid, unread_uid]
    client = imap_account.client()
    try:
        client.select_folder("INBOX", readonly=True)
        flags = client.get_flags([read_uid, unread_uid])
    finally:
        client.logout()
    assert b"\\Seen" in flags[read_uid]
    assert b"\\Seen" not in flags[unread_uid]  # BODY.PEEK: fetching did not mark it read


# -- F04: the n:* quirk --------------------------------------------------------------------

_MESSAGE_TABLES = (
    "mailroom_message",
    "mailroom_messagecopy",
    "mailroom_attachment",
    "mailroom_processingrecord",
    "mailroom_case",
    "mailroom_lead",
    "mailroom_outboxmessage",
)


def test_polling_an_unchanged_folder_writes_and_downloads_nothing(
    make_mailbox: Callable[..., Mailbox], imap_account: ImapAccount
) -> None:
    mailbox = make_mailbox(processor="case")
    for n in range(3):
        imap_account.append("INBOX", customer_mail(n))
    sync_once()
    folder = _inbox(mailbox)
    assert folder.last_uid == 3
    cursor = (folder.uidvalidity, folder.last_uid, folder.imported, folder.history_before)
    counts = row_counts()
    records = list(ProcessingRecord.objects.values_list("pk", "state", "attempts", "processed_at"))
    sessions_before = len(ended_sessions(imap_account.server, imap_account.username))

    # Statements that changed rows (an UPDATE matching nothing is no write).
    statements: list[str] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        result = execute(sql, params, many, context)
        if not sql.lstrip().upper().startswith("SELECT") and context["cursor"].rowcount:
            statements.append(sql)
        return result

    for _ in range(3):
        # UID SEARCH UID 4:* answers UID 3 (RFC 3501 §6.4.8): it must not be taken again.
        with connection.execute_wrapper(record):
            report = sync_once()
        assert report["stored"] == 0 and report["processed"] == 0 and report["sent"] == 0

    folder.refresh_from_db()
    assert (folder.uidvalidity, folder.last_uid, folder.imported, folder.history_before) == cursor
    assert row_counts() == counts
    assert (
        list(ProcessingRecord.objects.values_list("pk", "state", "attempts", "processed_at"))
        == records
    )
    writes = [s for s in statements if s.lstrip().upper().startswith(("INSERT", "DELETE"))]
    assert writes == []
    touched = [s for s in statements if s.lstrip().upper().startswith("UPDATE")]
    assert not [s for s in touched if any(f'"{table}"' in s for table in _MESSAGE_TABLES)]
    # Dovecot's own account: three more sessions, and not one message body sent in them.
    polls = ended_sessions(imap_account.server, imap_account.username)[sessions_before:]
    assert len(polls) == 3
    assert all(session.body_count == 0 for session in polls)


# -- F08: expunged between SEARCH and FETCH ------------------------------------------------


@pytest.mark.parametrize("moment", [SIZES_FETCH, BODIES_FETCH], ids=["sizes", "bodies"])
def test_a_message_expunged_between_search_and_fetch_is_skipped_and_the_batch_goes_on(
    make_mailbox: Callable[..., Mailbox],
    imap_account: ImapAccount,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    moment: bytes,
) -> None:
    caplog.set_level(logging.INFO, logger="mailroom")
    # Several batches: a folder is listed (SEARCH) before its batches are fetched. (A push of
    # a few new messages lists them with their sizes in one request: no gap to fall into.)
    monkeypatch.setattr(conf, "FETCH_BATCH", 2)
    mailbox = make_mailbox()
    uids = [imap_account.append("INBOX", customer_mail(n)) for n in range(5)]
    gone = uids[1]  # in the first batch, whose fetch the hook catches

    def colleague_expunges(asked: list[int]) -> None:
        # A colleague deletes one mail of the batch from another session, after our SEARCH
        # listed it and just before we ask for it.
        other = imap_account.client()
        try:
            other.select_folder("INBOX")
            other.delete_messages([gone])
            other.expunge()
        finally:
            other.logout()

    calls = before_imap_command(monkeypatch, moment, colleague_expunges)
    sync_once()

    assert gone in calls[0]  # it was asked for: the expunge really fell inside the batch
    assert _uids(mailbox) == [u for u in uids if u != gone]
    assert not Message.objects.exclude(placeholder="").exists()
    assert _inbox(mailbox).last_uid == uids[-1]
    mailbox.refresh_from_db()
    assert mailbox.status == MailboxStatus.OK
    if moment == BODIES_FETCH:
        # Asked for and not returned, it is looked for again alone and found gone. (Dovecot
        # answers the size request for an expunged UID with size 0 and a 1970 arrival time,
        # so there it is passed over, unlogged, as mail from before the import cut-off.)
        assert f"folder {_inbox(mailbox).pk}: UID {gone} was expunged meanwhile" in caplog.messages

    later = imap_account.append("INBOX", customer_mail(9))
    sync_once()
    assert _uids(mailbox) == [*[u for u in uids if u != gone], later]


# -- F09: a message over the size limit ----------------------------------------------------


def test_a_huge_message_is_not_downloaded_a_placeholder_is_kept_and_later_mail_flows(
    make_mailbox: Callable[..., Mailbox],
    imap_account: ImapAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    limit = 200_000
    monkeypatch.setattr(conf, "MAX_MESSAGE_BYTES", limit)
    mailbox = make_mailbox(processor="case")
    huge = customer_mail(1, extra=b"x" * 76 + b"\r\n") + (b"y" * 998 + b"\r\n") * 3000
    imap_account.deliver(huge)
    small_raw = customer_mail(2)  # its Date is the time of the call: build it once
    small_before = imap_account.append("INBOX", small_raw)

    sync_once()

    placeholder = Message.objects.get(mailbox=mailbox, placeholder="too_large")
    assert placeholder.raw_size == len(huge)
    assert placeholder.is_malformed and "exceeds the download limit" in placeholder.defects[0]
    assert b"left on the server" in placeholder.read_raw()
    assert placeholder.processing.state == ProcessingState.DONE
    assert placeholder.processing.outcome == "not downloaded: too large"
    assert Message.objects.get(uid=small_before).read_raw() == small_raw
    # Dovecot's own count: the huge body never went over the wire.
    sent = ended_sessions(imap_account.server, imap_account.username)
    assert sum(s.out_bytes for s in sent) < limit
    assert sum(s.body_bytes for s in sent) < limit

    small_after = imap_account.append("INBOX", customer_mail(3))
    sync_once()
    assert _uids(mailbox) == sorted([placeholder.uid, small_before, small_after])
    assert _inbox(mailbox).last_uid == small_after
    assert Message.objects.filter(placeholder="too_large").count() == 1
    assert not ProcessingRecord.objects.exclude(state=ProcessingState.DONE).exists()
    # The administrator is told once.
    assert Alert.objects.filter(mailbox=mailbox, key="too_large:INBOX").count() == 1


# -- F10: a poison message -----------------------------------------------------------------


def test_a_message_the_parser_chokes_on_is_kept_raw_flagged_and_passed(
    make_mailbox: Callable[..., Mailbox],
    imap_account: ImapAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mailroom.store import incoming

    mailbox = make_mailbox(processor="case")
    poison = customer_mail(2, extra=b"POISON\r\n")
    uids = [imap_account.append("INBOX", raw) for raw in (customer_mail(1), poison)]
    uids.append(imap_account.append("INBOX", customer_mail(3)))
    real_parse = incoming.parse_message
    parsed: list[bytes] = []

    def choke(raw: bytes) -> Any:
        parsed.append(raw)
        if b"POISON" in raw:
            raise RecursionError("maximum recursion depth exceeded")
        return real_parse(raw)

    monkeypatch.setattr(incoming, "parse_message", choke)
    for _ in range(3):
        sync_once()

    assert parsed.count(poison) == 1  # parsed once: never fetched or retried again
    assert _uids(mailbox) == uids
    assert _inbox(mailbox).last_uid == uids[-1]
    row = Message.objects.get(uid=uids[1])
    assert row.read_raw() == poison
    assert row.is_malformed
    assert row.defects == ["message not parsed (RecursionError)"]
    assert row.processing.state == ProcessingState.DONE
    assert Message.objects.get(uid=uids[2]).subject == "Question 3"
    # One alert, however often the folder is synced.
    assert Alert.objects.filter(mailbox=mailbox, key="unparsable:INBOX").count() == 1


def test_a_message_whose_processing_always_fails_is_tried_a_bounded_number_of_times(
    make_mailbox: Callable[..., Mailbox],
    imap_account: ImapAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mailroom.pipeline import engine

    mailbox = make_mailbox(processor="case")
    for n in range(3):
        imap_account.append("INBOX", customer_mail(n))
    real_run = engine._run
    tries: list[int] = []

    def fail_for_one(record: ProcessingRecord, message: Message, *args: Any) -> None:
        if message.subject == "Question 1":
            tries.append(message.pk)
            raise RuntimeError("a processor bug")
        real_run(record, message, *args)

    monkeypatch.setattr(engine, "_run", fail_for_one)
    for _ in range(5):
        sync_once()
        # As if the backoff after each failed attempt had passed.
        ProcessingRecord.objects.update(retry_at=None)

    bad = ProcessingRecord.objects.get(message__subject="Question 1")
    assert bad.state == ProcessingState.FAILED
    assert bad.attempts == engine.MAX_ATTEMPTS == len(tries)
    assert "a processor bug" in bad.error
    others = ProcessingRecord.objects.filter(message__mailbox=mailbox).exclude(pk=bad.pk)
    assert [r.state for r in others] == [ProcessingState.DONE] * 2


# -- F12: the connection drops mid-FETCH ---------------------------------------------------


def test_a_session_kicked_in_the_middle_of_a_fetch_leaves_no_partial_row(
    make_mailbox: Callable[..., Mailbox],
    imap_account: ImapAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(conf, "FETCH_BATCH", 8)
    mailbox = make_mailbox()
    body = (b"z" * 998 + b"\r\n") * 2000  # 2 MB: one FETCH of a batch is 16 MB
    mails = [customer_mail(n, extra=body) for n in range(16)]
    for raw in mails:
        imap_account.deliver(raw)
    real_read = imap_transport._capped_read
    literals = 0

    def kick_mid_fetch(conn: Any, size: int, max_literal: int) -> bytes:
        nonlocal literals
        literals += 1
        if literals == 9:
            # The first body of the second batch is being read; the other 14 MB are not
            # sent yet. doveadm kick ends the session under the client's feet.
            imap_account.server.kick(imap_account.username)
        return real_read(conn, size, max_literal)

    monkeypatch.setattr(imap_transport, "_capped_read", kick_mid_fetch)
    error = sync_failing()
    assert "fetching messages" in error

    # The first batch is whole, the second left no trace; the cursor is after the first.
    assert _uids(mailbox) == list(range(1, 9))
    assert _inbox(mailbox).last_uid == 8
    mailbox.refresh_from_db()
    assert mailbox.status == MailboxStatus.DEGRADED

    monkeypatch.setattr(imap_transport, "_capped_read", real_read)
    sync_once()
    assert _uids(mailbox) == list(range(1, 17))
    stored = []
    for message in Message.objects.filter(mailbox=mailbox):
        raw = message.read_raw()
        assert message.raw_size == len(raw)
        assert message.sha256 == hashlib.sha256(raw).hexdigest()
        stored.append(raw)
    assert sorted(stored) == sorted(mails)
    mailbox.refresh_from_db()
    assert mailbox.status == MailboxStatus.OK


# -- F13: the server is down ---------------------------------------------------------------


def _stop(server: DovecotServer) -> None:
    """Stop Dovecot as ``doveadm stop`` does (SIGTERM to the master), keeping its files."""
    assert server.pid is not None
    os.kill(server.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while server.running:
        assert time.monotonic() < deadline, "dovecot did not stop"
        time.sleep(0.05)


def _failing_pass_waits(mailbox: Mailbox) -> tuple[float, float]:
    """Run a pass that fails; the least and most seconds from the failure to the retry time it
    set (the failure happened somewhere during the pass)."""
    started = timezone.now()
    sync_failing()
    ended = timezone.now()
    mailbox.refresh_from_db()
    assert mailbox.retry_at is not None
    return (
        (mailbox.retry_at - ended).total_seconds(),
        (mailbox.retry_at - started).total_seconds(),
    )


def test_a_server_that_is_down_degrades_backs_off_alerts_once_and_recovers(
    own_dovecot: Callable[..., DovecotServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = own_dovecot()
    mailbox = create_mailbox(host=server.host, port=server.port, username=USER, password=PASSWORD)
    server.deliver_maildir(USER, "INBOX", customer_mail(1))
    sync_once()
    folder = _inbox(mailbox)

    _stop(server)
    server.deliver_maildir(USER, "INBOX", customer_mail(2))  # mail keeps arriving meanwhile
    # Without the jitter (a random factor of 0.5 to 1), the waits are exact.
    monkeypatch.setattr(mailbox_sync, "random", SimpleNamespace(uniform=lambda low, high: high))
    least, most = _failing_pass_waits(mailbox)
    assert "refused the connection" in mailbox.status_detail
    assert mailbox.status == MailboxStatus.DEGRADED and mailbox.failures == 1
    assert least <= 5 <= most
    # The sweep leaves the mailbox alone until its retry time.
    assert folder.pk not in jobs.due_folder_ids()
    least, most = _failing_pass_waits(mailbox)
    assert least <= 10 <= most  # the wait doubles
    assert Alert.objects.filter(mailbox=mailbox).count() == 0  # not for a short outage

    # Once the outage has lasted MAILROOM_DEGRADED_ALERT_MINUTES: one alert, not one per try.
    monkeypatch.setattr(conf, "DEGRADED_ALERT_MINUTES", 0)
    sync_failing()
    sync_failing()
    assert open_alerts(mailbox, "degraded") == 1
    mailbox.refresh_from_db()
    assert mailbox.failures == 4 and mailbox.auth_failed_version is None
    # Once the wait (and the poll interval) is over, the sweep tries again.
    past = timezone.now() - timedelta(seconds=1)
    Folder.objects.filter(pk=folder.pk).update(next_poll_at=past)
    assert folder.pk not in jobs.due_folder_ids()
    Mailbox.objects.filter(pk=mailbox.pk).update(retry_at=past)
    assert folder.pk in jobs.due_folder_ids()

    server.restart()
    report = sync_once()
    assert report["stored"] == 1
    mailbox.refresh_from_db()
    assert mailbox.status == MailboxStatus.OK
    assert (mailbox.failures, mailbox.retry_at, mailbox.failing_since) == (0, None, None)
    assert open_alerts(mailbox, "degraded") == 0
    assert Alert.objects.filter(mailbox=mailbox, key="recovered").count() == 1
    sync_once()
    assert Alert.objects.filter(mailbox=mailbox, key="recovered").count() == 1
    assert [m.subject for m in Message.objects.order_by("uid")] == ["Question 1", "Question 2"]


# -- F15: transient refusals ---------------------------------------------------------------


def test_the_connection_limit_is_a_transient_refusal_never_an_auth_error(
    own_dovecot: Callable[..., DovecotServer],
) -> None:
    server = own_dovecot(max_userip_connections=2)
    mailbox = create_mailbox(host=server.host, port=server.port, username=USER, password=PASSWORD)
    server.deliver_maildir(USER, "INBOX", customer_mail(1))
    held = [server.client(USER, PASSWORD) for _ in range(2)]
    try:
        error = sync_failing()
        assert "Maximum number of connections" in error
        mailbox.refresh_from_db()
        assert mailbox.status == MailboxStatus.DEGRADED
        assert mailbox.auth_failed_version is None
        assert mailbox.retry_at is not None and mailbox.retry_at > timezone.now()
        assert open_alerts(mailbox, "auth") == 0
        assert server.auth_failure_count(USER) == 0  # the password was never wrong
        sync_failing()
        mailbox.refresh_from_db()
        assert mailbox.status == MailboxStatus.DEGRADED and mailbox.failures == 2
    finally:
        for client in held:
            client.logout()
    server.wait_for_log("Logged out", count=2)

    assert sync_once()["stored"] == 1
    mailbox.refresh_from_db()
    assert mailbox.status == MailboxStatus.OK


# -- F16: a stalled server -----------------------------------------------------------------

TIMEOUT = 1
MARGIN = 3.0


class _ListingPeer(ImapPeer):
    """The scripted peer, answering UID SEARCH with three UIDs so the sync gets to FETCH."""

    def _answer(self, out: BinaryIO, tag: bytes, command: bytes, args: bytes | None) -> bool:
        if command == b"UID SEARCH":
            out.write(b"* SEARCH 1 2 3\r\n" + tag + b" OK done\r\n")
            out.flush()
            return True
        return super()._answer(out, tag, command, args)


def _stall(peer: ImapPeer, out: BinaryIO, tag: bytes, uids: list[int]) -> None:
    peer.stall()


def _lease(folder: Folder) -> tuple[str, object]:
    folder.refresh_from_db()
    return folder.lease_owner, folder.lease_until


@pytest.mark.parametrize("stage", ["greeting", "fetch"])
def test_a_stalled_server_costs_one_timeout_and_releases_the_folder(
    monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    """Dovecot always greets and always finishes a FETCH it started, so the silent server is a
    scripted socket server: one that accepts TCP and never greets, and one that logs in and
    lists mail, then stalls in the middle of the size FETCH (after the folder lease is taken).
    """
    monkeypatch.setattr(conf, "MAIL_TIMEOUT", TIMEOUT)
    peer = SilentPeer() if stage == "greeting" else _ListingPeer(_stall)
    with peer:
        mailbox = create_mailbox(host="127.0.0.1", port=peer.port, username="u", password="p")
        folder = _inbox(mailbox)
        started = time.monotonic()
        jobs.sync_folder(folder.pk)  # the task the executor runs
        elapsed = time.monotonic() - started
        if stage == "fetch":
            assert any(b"UID FETCH" in line for line in peer.commands)
    assert elapsed < TIMEOUT + MARGIN
    assert _lease(folder) == ("", None)
    mailbox.refresh_from_db()
    assert mailbox.status == MailboxStatus.DEGRADED
    assert "in time" in mailbox.status_detail
    assert not Message.objects.exists()
    assert folder.last_uid == 0
