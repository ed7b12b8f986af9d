"""Which folder the copy goes to on a server that marks no folder SPECIAL-USE: one named
"Sent Items" (or "Sent", "Sent Messages"), else none, recorded with its reason."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User

from mailroom.models import Message, OutboxState, SentCopy
from tests.autoresponse.helpers import add_mailbox
from tests.replies.conftest import QUESTION, QUESTION_ID, Rig, Tasks, sync
from tests.servers.dovecot import DovecotServer
from tests.servers.fixtures import ImapAccount, require_dovecot
from tests.servers.smtp import SmtpSink


@pytest.fixture(scope="module")
def plain_dovecot() -> Iterator[DovecotServer]:
    """A Dovecot whose folders carry no SPECIAL-USE flags and that creates none."""
    require_dovecot()
    with DovecotServer(special_folders=False) as server:
        yield server


@pytest.fixture
def plain_rig(transactional_db: None, plain_dovecot: DovecotServer) -> Iterator[Rig]:
    account = ImapAccount(
        plain_dovecot.host,
        plain_dovecot.port,
        f"plain-{secrets.token_hex(4)}@example.test",
        secrets.token_urlsafe(12),
        plain_dovecot,
    )
    plain_dovecot.add_user(account.username, account.password)
    with SmtpSink(username=account.username, password=account.password, auth_required=True) as sink:
        mailbox = add_mailbox("Support", "support@example.test", account, sink, "case")
        account.append("INBOX", QUESTION)
        sync()
        message = Message.objects.get(mailbox=mailbox, message_id=QUESTION_ID)
        admin = User.objects.create_superuser("admin", "admin@example.test", "pw-admin-1")
        stranger = User.objects.create_user("stranger", "stranger@example.test", "pw-s-1")
        yield Rig(account, sink, mailbox, message, admin, stranger)


def _folders(rig: Rig) -> set[str]:
    client = rig.account.client()
    try:
        return {str(name) for _flags, _sep, name in client.list_folders()}
    finally:
        client.logout()


def test_a_folder_named_sent_items_is_used(plain_rig: Rig, tasks: Tasks) -> None:
    plain_rig.account.create_folder("Sent Items")
    row = plain_rig.reply(tasks)
    assert row.state == OutboxState.SENT
    assert row.sent_copy == SentCopy.SAVED, row.sent_copy_error
    assert row.sent_copy_folder == "Sent Items"
    [(raw, flags)] = plain_rig.sent_folder("Sent Items")
    assert raw == bytes(row.raw) and b"\\Seen" in flags


def test_without_a_sent_folder_the_copy_fails_and_says_why(plain_rig: Rig, tasks: Tasks) -> None:
    row = plain_rig.reply(tasks)
    assert row.state == OutboxState.SENT
    assert row.sent_copy == SentCopy.FAILED
    assert "marks no folder as Sent" in row.sent_copy_error
    assert "choose one in the mailbox's settings" in row.sent_copy_error
    # Nothing was created on the server to make up for it.
    assert _folders(plain_rig) == {"INBOX"}

    plain_rig.account.create_folder("Sent Messages")
    plain_rig.client(plain_rig.reader).post(f"/replies/{row.pk}/copy/")
    tasks.run()
    row.refresh_from_db()
    assert row.sent_copy == SentCopy.SAVED and row.sent_copy_folder == "Sent Messages"
    assert len(plain_rig.sink.messages) == 1
