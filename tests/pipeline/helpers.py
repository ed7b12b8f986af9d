"""Store a message the way sync does, without a server, for pipeline tests."""

from __future__ import annotations

import itertools

from mailroom.mailboxes.actions import MailboxInput, save_mailbox, set_folders
from mailroom.models import Mailbox, Message
from tests.storing import store_one

_uids = itertools.count(1)

MAIL = (
    b"Return-Path: <alice@customer.test>\r\n"
    b"From: Alice Martin <alice@customer.test>\r\n"
    b"To: support@example.test\r\n"
    b"Subject: Broken printer\r\n"
    b"Message-ID: <p-1@customer.test>\r\n"
    b"\r\n"
    b"It does not print.\r\n"
)


def mailbox(processor: str = "none", **settings: str) -> Mailbox:
    box = save_mailbox(
        MailboxInput(
            label=f"Box {next(_uids)}",
            email="support@example.test",
            imap_host="imap.example.test",
            processor_kind=processor,
            processor_settings=dict(settings),
        ),
        password="pw",
    )
    set_folders(box, known=["INBOX"], selected=["INBOX"])
    return box


def stored(box: Mailbox, raw: bytes = MAIL) -> Message:
    message = store_one(box.folders.get(), next(_uids), raw)
    assert message is not None
    return message
