"""Every real-world message of shared/corpus/mixed survives the trip: appended to Dovecot,
synced, stored byte for byte, listed and viewable, whatever its defects."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client

from mailroom.models import Mailbox, Message, MessageCopy, ProcessingRecord, ProcessingState
from tests.conftest import run_cli
from tests.servers.fixtures import ImapAccount

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "mixed"

pytestmark = pytest.mark.django_db


def _normalised(data: bytes) -> bytes:
    # IMAP sends CRLF line endings; Dovecot turns a file's bare LF into CRLF on the way.
    return data.replace(b"\r\n", b"\n")


def test_it_stores_and_shows_every_message_of_the_mixed_corpus(
    make_mailbox: Callable[..., Mailbox],
    imap_account: ImapAccount,
    admin_user: User,
) -> None:
    files = sorted(p for p in CORPUS.iterdir() if p.is_file())
    assert len(files) > 250, f"corpus not found at {CORPUS}"
    mailbox = make_mailbox(processor="case")
    uid_to_file = {imap_account.append("INBOX", path.read_bytes()): path for path in files}

    run_cli("sync", "--once")

    stored = {m.uid: m for m in Message.objects.filter(mailbox=mailbox)}
    # Files with the same bytes are one email at several locations, listed once.
    for copy in MessageCopy.objects.filter(message__mailbox=mailbox).select_related("message"):
        stored[copy.uid] = copy.message
    assert sorted(stored) == sorted(uid_to_file)

    client = imap_account.client()
    try:
        client.select_folder("INBOX", readonly=True)
        on_server = client.fetch(list(uid_to_file), ["BODY.PEEK[]"])
    finally:
        client.logout()
    distinct = {item[b"BODY[]"] for item in on_server.values()}
    assert Message.objects.filter(mailbox=mailbox).count() == len(distinct)
    web = Client()
    web.force_login(admin_user)
    for uid, path in uid_to_file.items():
        message = stored[uid]
        raw = message.read_raw()
        assert raw == on_server[uid][b"BODY[]"], path.name
        assert _normalised(raw) == _normalised(path.read_bytes()), path.name
        page = web.get(f"/messages/{message.pk}/")
        assert page.status_code == 200, path.name
    states = set(ProcessingRecord.objects.values_list("state", flat=True))
    assert states == {ProcessingState.DONE}
    listing = web.get(f"/mailboxes/{mailbox.pk}/")
    assert listing.status_code == 200
