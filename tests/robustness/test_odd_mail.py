"""Odd real-world mail survives the whole trip: delivered to Dovecot, synced, stored once byte
for byte, flagged when malformed, processed to the end (a Case and an autoresponse where they
apply), and every page that shows it answers without a server error.

All messages go into one Dovecot mailbox and are synced once (module fixture); each oddity is
then checked in a test of its own. Dovecot serves a NUL as 0x80 and a bare CR as CRLF, so the
messages holding those are also stored as they are, straight into a second folder of the same
mailbox (as a server that passes them through would hand them over), and checked the same way.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.test import Client
from imapclient.exceptions import IMAPClientError

from mailroom.mailboxes.actions import set_folders
from mailroom.models import (
    Mailbox,
    Message,
    MessageCopy,
    OutboxMessage,
    OutboxState,
    ProcessingState,
)
from mailroom.pipeline.engine import process_messages
from tests.conftest import run_cli
from tests.robustness.oddities import ODDITIES, Oddity
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import SmtpSink
from tests.storing import store_one
from tests.test_end_to_end import _answering_rule

pytestmark = pytest.mark.django_db


_BARE_CR = re.compile(rb"\r(?!\n)")


def _as_served(data: bytes) -> bytes:
    """The bytes as Dovecot serves them, line ends as "\\n": it turns bare LF and bare CR
    into CRLF, and NUL (which IMAP forbids) into 0x80."""
    return _BARE_CR.sub(b"\n", data.replace(b"\r\n", b"\n")).replace(b"\x00", b"\x80")


def _altered_by_dovecot(oddity: Oddity) -> bool:
    return b"\x00" in oddity.raw or _BARE_CR.search(oddity.raw) is not None


ALTERED = [o for o in ODDITIES if _altered_by_dovecot(o)]


@dataclass
class World:
    """The synced mailbox, each oddity's UID, what the server holds at that UID, and the
    messages stored as they are, without the server (see the module docstring)."""

    mailbox: Mailbox
    user: User
    uids: dict[str, int]
    on_server: dict[int, bytes]
    direct: dict[str, int]


def _deliver(server: DovecotServer, username: str, password: str) -> dict[str, int]:
    """APPEND every oddity over one connection and return its UID; what the server refuses to
    take by APPEND (IMAP forbids NUL in a literal) is delivered into the Maildir as an MDA
    would, and found again by its bytes."""
    client = server.client(username, password)
    uids: dict[str, int] = {}
    refused: list[Oddity] = []
    try:
        for oddity in ODDITIES:
            try:
                response = client.append("INBOX", oddity.raw)
            except IMAPClientError:
                refused.append(oddity)
                continue
            uids[oddity.name] = int(response.split(b"APPENDUID ")[1].split(b" ")[1].rstrip(b"]"))
        for oddity in refused:
            server.deliver_maildir(username, "INBOX", oddity.raw)
        if refused:
            client.select_folder("INBOX", readonly=True)
            fetched = client.fetch(client.search(["ALL"]), ["BODY.PEEK[]"])
            known = set(uids.values())
            for oddity in refused:
                (uid,) = [
                    uid
                    for uid, item in fetched.items()
                    if uid not in known and _as_served(item[b"BODY[]"]) == _as_served(oddity.raw)
                ]
                uids[oddity.name] = uid
    finally:
        client.logout()
    return uids


def _fetch_all(server: DovecotServer, username: str, password: str) -> dict[int, bytes]:
    client = server.client(username, password)
    try:
        client.select_folder("INBOX", readonly=True)
        fetched = client.fetch(client.search(["ALL"]), ["BODY.PEEK[]"])
    finally:
        client.logout()
    return {uid: item[b"BODY[]"] for uid, item in fetched.items()}


def _make_mailbox(server: DovecotServer, smtp: SmtpSink, username: str, password: str) -> int:
    args = [
        "mailbox", "add",
        "--label", "Odd mail",
        "--email", "support@example.test",
        "--imap-host", server.host,
        "--imap-port", str(server.port),
        "--imap-encryption", "none",
        "--smtp-host", smtp.host,
        "--smtp-port", str(smtp.port),
        "--smtp-encryption", "none",
        "--username", username,
        "--password-stdin",
        "--folder", "INBOX",
        "--processor", "case",
        "--processor-setting", "owner=odd-admin@example.test",
    ]  # fmt: skip
    return int(run_cli(*args, stdin=password + "\n").strip())


@pytest.fixture(scope="module")
def world(
    django_db_setup: None, django_db_blocker: pytest.FixtureRequest, dovecot: DovecotServer
) -> Iterator[World]:
    """Deliver every oddity, sync and process once; everything is rolled back afterwards."""
    username = f"odd-{secrets.token_hex(4)}@example.test"
    password = secrets.token_urlsafe(12)
    dovecot.add_user(username, password)
    uids = _deliver(dovecot, username, password)
    on_server = _fetch_all(dovecot, username, password)
    with (
        SmtpSink(username=username, password=password, auth_required=True) as smtp,
        django_db_blocker.unblock(),  # type: ignore[attr-defined]
        transaction.atomic(),
    ):
        user = User.objects.create_superuser(
            "odd-admin@example.test", "odd-admin@example.test", "pw-odd-1"
        )
        mailbox = Mailbox.objects.get(pk=_make_mailbox(dovecot, smtp, username, password))
        _answering_rule(mailbox, contains="oddity")
        run_cli("sync", "--once")
        yield World(mailbox, user, uids, on_server, _store_directly(mailbox))
        transaction.set_rollback(True)


def _store_directly(mailbox: Mailbox) -> dict[str, int]:
    """Store the oddities Dovecot would alter, as they are, in a folder "Direct"; process them."""
    set_folders(mailbox, known=["INBOX", "Direct"], selected=["INBOX", "Direct"])
    folder = mailbox.folders.get(name="Direct")
    uids = itertools.count(1)
    direct: dict[str, int] = {}
    for oddity in ALTERED:
        message = store_one(folder, next(uids), oddity.raw)
        assert message is not None, f"{oddity.name} taken for a copy"
        direct[oddity.name] = message.pk
    process_messages(direct.values())
    return direct


def _stored(world: World, oddity: Oddity) -> Message:
    """The one message row holding the oddity's UID (directly or as a further copy)."""
    uid = world.uids[oddity.name]
    rows = list(Message.objects.filter(mailbox=world.mailbox, folder__name="INBOX", uid=uid))
    copies = MessageCopy.objects.filter(
        message__mailbox=world.mailbox, folder__name="INBOX", uid=uid
    )
    rows += [copy.message for copy in copies.select_related("message")]
    assert len(rows) == 1, f"UID {uid} is stored {len(rows)} times"
    return rows[0]


def _ok(client: Client, url: str) -> None:
    response = client.get(url)
    assert response.status_code < 500, f"{url} answered {response.status_code}"


def _check(world: World, oddity: Oddity, message: Message, *, as_sent: bool = True) -> None:
    """It is stored once, flagged if malformed, processed to the end, and shown.

    ``as_sent`` is False for bytes Dovecot altered: those are flagged or not on their own
    merits (a UTF-16 text whose NULs became 0x80 no longer decodes)."""
    raw = message.read_raw()
    digest = hashlib.sha256(raw).hexdigest()
    assert Message.objects.filter(mailbox=world.mailbox, sha256=digest).count() == 1

    if oddity.malformed is not None and as_sent:
        assert message.is_malformed is oddity.malformed, message.defects
    if message.is_malformed:
        assert message.defects, "flagged malformed without saying why"

    record = message.processing
    assert record.state == ProcessingState.DONE, (record.state, record.error)
    assert record.outcome, "processed without an outcome"
    for answer in OutboxMessage.objects.filter(in_reply_to=message):
        assert answer.state == OutboxState.SENT, (answer.state, answer.last_error)

    client = Client()
    client.force_login(world.user)
    _ok(client, f"/messages/{message.pk}/")
    if message.html_body and message.text_body:
        _ok(client, f"/messages/{message.pk}/?view=text")
    _ok(client, f"/messages/{message.pk}/body/")
    _ok(client, f"/messages/{message.pk}/raw/")
    for attachment in message.attachments.all():
        _ok(client, f"/attachments/{attachment.pk}/")
        if attachment.content_id:
            _ok(client, f"/messages/{message.pk}/inline/{attachment.pk}/")
    # The mailbox's page and mail list show every oddity at once: test_the_mail_list_...
    _ok(client, f"/mailboxes/{world.mailbox.pk}/mail/?" + urlencode({"q": oddity.search}))
    words = [w for w in message.subject.split() if w.isalnum()]
    if words:
        _ok(client, f"/mailboxes/{world.mailbox.pk}/mail/?" + urlencode({"q": words[-1][:50]}))
    if message.conversation_id is not None:
        _ok(client, f"/conversations/{message.conversation_id}/")


@pytest.mark.parametrize("oddity", ODDITIES, ids=[o.name for o in ODDITIES])
def test_odd_mail_is_synced_stored_processed_and_shown(world: World, oddity: Oddity) -> None:
    message = _stored(world, oddity)
    raw = message.read_raw()
    # Exactly the bytes the server holds, which are what was delivered up to what Dovecot
    # changes on the way (see _as_served).
    assert raw == world.on_server[world.uids[oddity.name]]
    assert _as_served(raw) == _as_served(oddity.raw)
    if not _altered_by_dovecot(oddity):
        assert raw.replace(b"\r\n", b"\n") == oddity.raw.replace(b"\r\n", b"\n")
    _check(world, oddity, message, as_sent=not _altered_by_dovecot(oddity))


@pytest.mark.parametrize("oddity", ALTERED, ids=[o.name for o in ALTERED])
def test_odd_bytes_a_server_passes_through_are_stored_as_they_are(
    world: World, oddity: Oddity
) -> None:
    message = Message.objects.get(pk=world.direct[oddity.name])
    assert message.read_raw() == oddity.raw
    _check(world, oddity, message)


def test_the_mail_list_and_mailbox_page_show_every_oddity_at_once(world: World) -> None:
    client = Client()
    client.force_login(world.user)
    _ok(client, f"/mailboxes/{world.mailbox.pk}/")
    for view in ("conversations", "messages"):
        _ok(client, f"/mailboxes/{world.mailbox.pk}/mail/?view={view}")
