"""The defects found in the first engine, each proved fixed against a real Dovecot and SMTP
sink (or a scripted IMAP peer where Dovecot cannot be made to misbehave that way)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

import pytest

from mailroom import conf
from mailroom.leases import new_owner
from mailroom.mailboxes.actions import MailboxInput, save_mailbox, set_folders
from mailroom.models import (
    AutoResponseRule,
    EmailTemplate,
    EmailTemplateTranslation,
    Folder,
    Mailbox,
    MailboxConnection,
    Message,
    OutboxMessage,
    OutboxState,
    ProcessingRecord,
    ProcessingState,
    RawMessage,
)
from mailroom.store import incoming
from mailroom.store.incoming import Fetched, LeaseLost, store_chunk
from mailroom.sync.folder import FOLDER_LEASE
from mailroom.sync.mailbox import sync_mailbox
from mailroom.transport.errors import ProtocolError
from mailroom.transport.imap import FetchedMessage, ImapSession
from tests.conftest import run_cli
from tests.servers.fixtures import ImapAccount
from tests.servers.smtp import SmtpSink
from tests.transport.peers import ImapPeer

pytestmark = pytest.mark.django_db

_numbers = itertools.count(1)


def _mail(subject: str = "Help") -> bytes:
    n = next(_numbers)
    return (
        b"Return-Path: <carol@customer.test>\r\n"
        b"From: Carol <carol@customer.test>\r\n"
        b"To: support@example.test\r\n"
        b"Subject: %s %d\r\n"
        b"Message-ID: <defect-%d@customer.test>\r\n"
        b"\r\n"
        b"Please help.\r\n" % (subject.encode(), n, n)
    )


def _answer_everything(mailbox: Mailbox) -> None:
    template = EmailTemplate.objects.create(name=f"ack-{mailbox.pk}", default_language="en")
    EmailTemplateTranslation.objects.create(
        template=template, language="en", subject="Got it", body="We have your message."
    )
    AutoResponseRule.objects.create(mailbox=mailbox, name="All", template=template, active=True)


def test_a_uid_left_out_of_a_fetch_reply_is_asked_for_again_and_stored(
    make_mailbox: Callable[..., Mailbox],
    imap_account: ImapAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_mailbox()
    uids = [imap_account.append("INBOX", _mail()) for _ in range(3)]
    real_bodies = ImapSession.bodies

    def forgetful(self: ImapSession, wanted: list[int]) -> dict[int, bytes]:
        return {uid: raw for uid, raw in real_bodies(self, wanted).items() if uid != uids[1]}

    monkeypatch.setattr(ImapSession, "bodies", forgetful)
    run_cli("sync", "--once")

    assert sorted(Message.objects.values_list("uid", flat=True)) == uids
    assert not Message.objects.exclude(placeholder="").exists()


def test_a_uid_the_server_never_returns_is_recorded_missing_not_skipped(
    make_mailbox: Callable[..., Mailbox],
    imap_account: ImapAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mailbox = make_mailbox()
    uids = [imap_account.append("INBOX", _mail()) for _ in range(3)]
    real_bodies, real_fetch = ImapSession.bodies, ImapSession.fetch

    def never_the_second(self: ImapSession, wanted: list[int]) -> dict[int, bytes]:
        return {uid: raw for uid, raw in real_bodies(self, wanted).items() if uid != uids[1]}

    def not_alone_either(self: ImapSession, wanted: list[int]) -> list[FetchedMessage]:
        return [m for m in real_fetch(self, wanted) if m.uid != uids[1]]

    monkeypatch.setattr(ImapSession, "bodies", never_the_second)
    monkeypatch.setattr(ImapSession, "fetch", not_alone_either)
    run_cli("sync", "--once")

    missing = Message.objects.get(uid=uids[1])
    assert missing.placeholder == "missing"
    assert "did not return" in missing.subject
    assert missing.processing.state == ProcessingState.DONE
    assert mailbox.folders.get(name="INBOX").last_uid == uids[2]
    # Shown on the mailbox page like any other message.
    assert Message.objects.filter(mailbox=mailbox).count() == 3


def _lying_server(peer: ImapPeer, out: BinaryIO, tag: bytes, uids: list[int]) -> None:
    """Says every message is 100 bytes; UID 2 then comes as a literal far over the limit."""
    command = peer.commands[-1].upper()
    if b"RFC822.SIZE" in command:
        for uid in uids:
            out.write(b"* %d FETCH (UID %d RFC822.SIZE 100)\r\n" % (uid, uid))
    else:
        for uid in uids:
            if uid == 2:
                out.write(b"* %d FETCH (UID %d BODY[] {999999999}\r\n" % (uid, uid))
                out.flush()
                return  # the client refuses to read it and drops the connection
            body = b"From: x@customer.test\r\nSubject: n%d\r\n\r\nhello\r\n" % uid
            out.write(
                b'* %d FETCH (UID %d INTERNALDATE "01-Dec-2026 10:00:00 +0000" FLAGS () '
                b"BODY[] {%d}\r\n%s)\r\n" % (uid, uid, len(body), body)
            )
    out.write(tag + b" OK done\r\n")


class _SearchingPeer(ImapPeer):
    """A scripted peer that also answers ``UID SEARCH`` with UIDs 1 to 3.

    Dovecot cannot be made to send a literal larger than the size it announced; this can.
    """

    def _answer(self, out: BinaryIO, tag: bytes, command: bytes, args: bytes | None) -> bool:
        if command == b"UID SEARCH":
            out.write(b"* SEARCH 1 2 3\r\n" + tag + b" OK done\r\n")
            out.flush()
            return True
        if command == b"UID FETCH" and args and b":*" in args.split(b" ", 1)[0]:
            first = int(args.split(b":", 1)[0])
            assert self.on_fetch is not None
            self.on_fetch(self, out, tag, [uid for uid in (1, 2, 3) if uid >= first])
            out.flush()
            return True
        return super()._answer(out, tag, command, args)


def test_a_message_larger_than_announced_gets_a_placeholder_and_the_folder_moves_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(conf, "ALLOWED_MAIL_HOSTS", ["127.0.0.1"])
    monkeypatch.setattr(conf, "MAIL_TIMEOUT", 5)
    with _SearchingPeer(_lying_server) as peer:
        mailbox = save_mailbox(
            MailboxInput(
                label="Liar",
                email="support@example.test",
                imap_host="127.0.0.1",
                imap_port=peer.port,
                imap_encryption="none",
                username="u",
                history_mode="all",
            ),
            password="p",
        )
        set_folders(mailbox, known=["INBOX"], selected=["INBOX"])
        monkeypatch.setattr(conf, "ALLOWED_MAIL_PORTS", [peer.port])
        first = sync_mailbox(mailbox.pk)
        second = sync_mailbox(mailbox.pk, force=True)

    assert first.error == "" and second.error == ""
    rows = {m.uid: m for m in Message.objects.all()}
    assert sorted(rows) == [1, 2, 3]
    assert rows[2].placeholder == "too_large"
    assert rows[1].subject == "n1" and rows[3].subject == "n3"
    assert mailbox.folders.get().last_uid == 3


def test_one_failing_folder_does_not_stop_the_others(
    make_mailbox: Callable[..., Mailbox],
    imap_account: ImapAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    imap_account.create_folder("Archive")
    mailbox = make_mailbox()
    set_folders(mailbox, known=["INBOX", "Archive"], selected=["Archive", "INBOX"])
    imap_account.append("INBOX", _mail())
    real_examine = ImapSession.examine

    def refuse_archive(self: ImapSession, folder: str) -> object:
        if folder == "Archive":
            raise ProtocolError("the server refused opening folder 'Archive': NO [SERVERBUG]")
        return real_examine(self, folder)

    monkeypatch.setattr(ImapSession, "examine", refuse_archive)
    sync_mailbox(mailbox.pk)

    assert Message.objects.filter(folder__name="INBOX").count() == 1
    assert "SERVERBUG" in mailbox.folders.get(name="Archive").last_error


def test_a_chunk_that_fails_to_store_leaves_no_raw_bytes_behind(
    make_mailbox: Callable[..., Mailbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The raw bytes used to be written to a file before the rows, in place: a crash left a
    # truncated file that was taken for the message ever after. Now they are rows of the
    # chunk's own transaction.
    folder = make_mailbox().folders.get()
    Folder.objects.filter(pk=folder.pk).update(uidvalidity=1)
    folder.refresh_from_db()
    owner = new_owner()
    assert FOLDER_LEASE.claim(folder.pk, owner, timedelta(seconds=60))

    real_insert = incoming.insert_rows

    def crash_at_the_records(model: type, rows: list[dict[str, object]], **kwargs: bool) -> None:
        if model is ProcessingRecord:
            raise RuntimeError("killed in the middle of the chunk")
        real_insert(model, rows, **kwargs)

    monkeypatch.setattr(incoming, "insert_rows", crash_at_the_records)
    with pytest.raises(RuntimeError):
        store_chunk(folder, owner=owner, uidvalidity=1, items=[Fetched(1, _mail())], cursor=1)

    assert not RawMessage.objects.exists()
    assert not Message.objects.exists()
    assert Folder.objects.get(pk=folder.pk).last_uid == 0


def test_smtp_disabled_sends_no_autoresponse(
    make_mailbox: Callable[..., Mailbox], imap_account: ImapAccount, smtp_server: SmtpSink
) -> None:
    mailbox = make_mailbox()
    _answer_everything(mailbox)
    MailboxConnection.objects.filter(mailbox=mailbox).update(smtp_enabled=False)
    imap_account.append("INBOX", _mail())

    run_cli("sync", "--once")

    assert smtp_server.messages == []
    row = OutboxMessage.objects.get()
    assert row.state == OutboxState.PENDING and row.attempts == 0


def test_imap_disabled_fetches_nothing_and_says_so(
    make_mailbox: Callable[..., Mailbox], imap_account: ImapAccount
) -> None:
    mailbox = make_mailbox()
    MailboxConnection.objects.filter(mailbox=mailbox).update(imap_enabled=False)
    imap_account.append("INBOX", _mail())
    logins = imap_account.server.login_count(imap_account.username)

    run_cli("sync", "--once")

    mailbox.refresh_from_db()
    assert mailbox.status == "disabled" and mailbox.get_status_display() == "IMAP disabled"
    assert not Message.objects.exists()
    assert imap_account.server.login_count(imap_account.username) == logins


def test_a_new_login_is_a_new_account_whose_mail_never_mixes_with_the_old(
    make_mailbox: Callable[..., Mailbox], imap_account: ImapAccount, dovecot: object
) -> None:
    from tests.servers.dovecot import DovecotServer

    assert isinstance(dovecot, DovecotServer)
    mailbox = make_mailbox()
    imap_account.append("INBOX", _mail("old account"))
    run_cli("sync", "--once")
    dovecot.add_user("second@example.test", "pw-2")
    already_there = dovecot.client("second@example.test", "pw-2")
    try:
        already_there.append(
            "INBOX",
            _mail("on the second account before the change"),
            msg_time=datetime.now(UTC) - timedelta(days=3),
        )
    finally:
        already_there.logout()
    connection = mailbox.connection
    save_mailbox(
        MailboxInput(
            label=mailbox.label,
            email=mailbox.email,
            imap_host=connection.imap_host,
            imap_port=connection.imap_port,
            imap_encryption="none",
            smtp_host=connection.smtp_host,
            smtp_port=connection.smtp_port,
            smtp_encryption="none",
            username="second@example.test",
        ),
        password="pw-2",
        mailbox=mailbox,
    )
    new = dovecot.client("second@example.test", "pw-2")
    try:
        new.append("INBOX", _mail("new account"))
    finally:
        new.logout()

    run_cli("sync", "--once")

    mailbox.refresh_from_db()
    assert mailbox.account_version == 2
    by_account = dict(Message.objects.values_list("subject", "account_version"))
    subjects = sorted(by_account)
    assert subjects[0].startswith("new account") and by_account[subjects[0]] == 2
    assert subjects[1].startswith("old account") and by_account[subjects[1]] == 1
    # History of the second account (default "none") was not imported.
    assert len(by_account) == 2
    assert mailbox.folders.get(name="INBOX").account_version == 2


@pytest.mark.parametrize(
    ("mode", "days", "imported"),
    [("none", None, []), ("days", 5, ["recent"]), ("all", None, ["ancient", "recent"])],
)
def test_the_first_connect_imports_the_history_chosen_and_never_answers_it(
    mode: str,
    days: int | None,
    imported: list[str],
    imap_account: ImapAccount,
    smtp_server: SmtpSink,
) -> None:
    now = datetime.now(UTC)
    imap_account.append("INBOX", _mail("ancient"), msg_time=now - timedelta(days=30))
    imap_account.append("INBOX", _mail("recent"), msg_time=now - timedelta(days=2))
    mailbox = save_mailbox(
        MailboxInput(
            label="History",
            email="support@example.test",
            imap_host=imap_account.host,
            imap_port=imap_account.port,
            imap_encryption="none",
            smtp_host=smtp_server.host,
            smtp_port=smtp_server.port,
            smtp_encryption="none",
            username=imap_account.username,
            history_mode=mode,
            history_days=days,
        ),
        password=imap_account.password,
    )
    set_folders(mailbox, known=["INBOX"], selected=["INBOX"])
    _answer_everything(mailbox)
    imap_account.append("INBOX", _mail("arrives after connecting"))

    run_cli("sync", "--once")

    stored = {m.subject.rsplit(" ", 1)[0]: m for m in Message.objects.all()}
    assert sorted(stored) == sorted([*imported, "arrives after connecting"])
    assert not stored["arrives after connecting"].is_history
    assert all(stored[name].is_history for name in imported)
    # Only the new mail is answered; history is classified and its rules recorded.
    assert len(smtp_server.accepted) == 1
    for name in imported:
        record = ProcessingRecord.objects.get(message=stored[name])
        assert "history" in record.steps[-1]["detail"]
    # Saving the mailbox again does not move the cut-off.
    cutoff = Mailbox.objects.get(pk=mailbox.pk).account_started_at
    save_mailbox(
        MailboxInput(
            label="History",
            email="support@example.test",
            imap_host=imap_account.host,
            imap_port=imap_account.port,
            imap_encryption="none",
            username=imap_account.username,
            history_mode="all",
        ),
        password=None,
        mailbox=mailbox,
    )
    assert Mailbox.objects.get(pk=mailbox.pk).account_started_at == cutoff


def test_a_stale_syncer_can_neither_release_nor_write_after_its_lease_was_taken_over(
    make_mailbox: Callable[..., Mailbox],
) -> None:
    mailbox = make_mailbox()
    folder = mailbox.folders.get()
    Folder.objects.filter(pk=folder.pk).update(uidvalidity=1, last_uid=50)
    folder.refresh_from_db()
    stale, fresh = new_owner(), new_owner()
    assert FOLDER_LEASE.claim(folder.pk, stale, timedelta(seconds=60))
    assert not FOLDER_LEASE.claim(folder.pk, fresh, timedelta(seconds=60))
    Folder.objects.filter(pk=folder.pk).update(lease_until=datetime.now(UTC) - timedelta(seconds=1))
    assert FOLDER_LEASE.claim(folder.pk, fresh, timedelta(seconds=60))

    assert not FOLDER_LEASE.release(folder.pk, stale)
    with pytest.raises(LeaseLost):
        store_chunk(folder, owner=stale, uidvalidity=1, items=[Fetched(51, _mail())], cursor=51)
    # A stale view of the folder (cursor 0) never moves the cursor back either.
    folder.last_uid = 0
    store_chunk(folder, owner=fresh, uidvalidity=1, items=[], cursor=10)

    folder.refresh_from_db()
    assert folder.last_uid == 50
    assert folder.lease_owner == fresh
    assert not Message.objects.exists()
