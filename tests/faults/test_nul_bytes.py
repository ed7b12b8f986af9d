"""NUL bytes and invalid UTF-8 in a message (threats.md F11), on whichever database the suite
runs: PostgreSQL refuses NUL in text and JSON columns where SQLite stores it, so a message that
stores on one must store, the same, on the other.

The raw bytes are kept exactly; the text derived from them holds no NUL (the parser drops it
from decoded text, and what a parser step lets through becomes U+FFFD where parsed fields
become row values, with a defect saying so). The message is then processed and answered like
any other.
"""

from __future__ import annotations

import imaplib
import smtplib
from collections.abc import Callable
from email import message_from_bytes
from email.utils import format_datetime
from typing import Any

import pytest
from django.utils import timezone

from mailroom.mime.addresses import Address
from mailroom.mime.parse import AttachmentInfo, ParsedMessage
from mailroom.models import Attachment, Case, Mailbox, Message, ProcessingRecord
from mailroom.pipeline.engine import process_messages
from mailroom.store import incoming
from mailroom.sync.mailbox import record_failure
from mailroom.transport.errors import classify
from tests.faults.helpers import answering_rule, sync_once
from tests.servers.fixtures import ImapAccount
from tests.servers.smtp import SmtpSink
from tests.storing import store_one

pytestmark = pytest.mark.django_db


def nasty_mail() -> bytes:
    """A customer's question with NUL bytes and invalid UTF-8 in headers, bodies, file names."""
    return (
        b"Return-Path: <bob@customer.test>\r\n"
        b"From: Bob\x00 Smith <bob@customer.test>\r\n"
        b"To: =?utf-8?q?Sup=00port?= <support@example.test>\r\n"
        b"Subject: Question\x00 about =?utf-8?q?my=00order?= \xff\xfe caf\xc3\r\n"
        b"Message-ID: <nul-1@customer.test>\r\n"
        b"References: <earlier\x00@customer.test>\r\n"
        b"Date: " + format_datetime(timezone.now()).encode() + b"\r\n"
        b"X-Odd: va\x00lue \xc3\x28 \xed\xa0\x80\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n'
        b"\r\n"
        b"--b\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"\r\n"
        b"Where is\x00 my order? \xff\xed\xa0\x80\r\n"
        b"--b\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n"
        b"\r\n"
        b"<p>Where\x00 is my order?</p>\r\n"
        b"--b\r\n"
        b'Content-Type: application/pdf\x00; name="=?utf-8?q?in=00voice.pdf?="\r\n'
        b"Content-Disposition: attachment; filename*=utf-8''re%00ceipt%FF.pdf\r\n"
        b"Content-ID: <part\x00one@customer.test>\r\n"
        b"Content-Transfer-Encoding: base64\r\n"
        b"\r\n"
        b"JVBERi0=\r\n"
        b"--b--\r\n"
    )


def unstorable(value: Any) -> list[str]:
    """Every text in ``value`` (a row value, JSON included) holding NUL or a lone surrogate."""
    if isinstance(value, str):
        bad = "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value)
        return [value] if bad else []
    if isinstance(value, list | tuple):
        return [text for item in value for text in unstorable(item)]
    if isinstance(value, dict):
        return [text for pair in value.items() for text in unstorable(list(pair))]
    return []


TEXT_FIELDS = (
    "message_id", "in_reply_to", "references", "subject", "from_name", "from_email", "from_all",
    "to", "cc", "reply_to", "return_path", "headers", "text_body", "html_body", "defects",
)  # fmt: skip


def _check_row(message: Message, raw: bytes) -> None:
    """The row read back from the database: raw bytes exact, no NUL in any derived text."""
    message = Message.objects.get(pk=message.pk)
    assert message.read_raw() == raw
    for name in TEXT_FIELDS:
        assert unstorable(getattr(message, name)) == [], name
    for attachment in Attachment.objects.filter(message=message):
        row = [attachment.filename, attachment.content_type, attachment.content_id]
        assert unstorable(row) == []


def test_nul_bytes_and_invalid_utf8_store_and_the_text_stays_readable(
    make_mailbox: Callable[..., Mailbox],
) -> None:
    mailbox = make_mailbox()
    raw = nasty_mail()
    assert b"\x00" in raw

    message = store_one(mailbox.folders.get(name="INBOX"), 1, raw, internal_date=timezone.now())

    assert message is not None
    _check_row(message, raw)
    message = Message.objects.get(pk=message.pk)
    assert message.subject.startswith("Question about myorder ")
    assert (message.from_name, message.from_email) == ("Bob Smith", "bob@customer.test")
    assert message.to == [{"name": "Support", "email": "support@example.test"}]
    assert message.references == ["<earlier@customer.test>"]
    assert "Where is my order?" in message.text_body
    assert "<p>Where is my order?</p>" in message.html_body
    assert dict(message.headers)["X-Odd"].startswith("value ")
    attachment = Attachment.objects.get(message=message)
    assert attachment.filename.startswith("receipt")
    assert attachment.filename.endswith(".pdf")
    assert attachment.content_type == "application/pdf"
    assert attachment.content_id == "partone@customer.test"


def test_a_mail_with_nul_bytes_from_the_server_is_stored_processed_and_answered(
    make_mailbox: Callable[..., Mailbox],
    imap_account: ImapAccount,
    smtp_server: SmtpSink,
) -> None:
    mailbox = make_mailbox(processor="case")
    answering_rule(mailbox)
    imap_account.deliver(nasty_mail())

    report = sync_once()

    assert report["stored"] == 1
    message = Message.objects.get()
    client = imap_account.client()
    try:
        client.select_folder("INBOX", readonly=True)
        on_server = client.fetch([message.uid], ["BODY.PEEK[]"])[message.uid][b"BODY[]"]
    finally:
        client.logout()
    _check_row(message, on_server)  # exactly the bytes the server gave
    record = ProcessingRecord.objects.get(message=message)
    assert (record.state, record.error) == ("done", "")
    assert Case.objects.filter(message=message).count() == 1
    assert len(smtp_server.accepted) == 1
    reply = message_from_bytes(smtp_server.accepted[0].data)
    assert reply["In-Reply-To"] == "<nul-1@customer.test>"
    assert "\x00" not in str(reply["Subject"])


def test_what_a_parser_step_lets_through_is_replaced_and_recorded_where_rows_are_made(
    make_mailbox: Callable[..., Mailbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The parser promises text without NUL; should one of its steps break that promise, the
    # store must still store the message, the same on either database.
    nul = "\x00"
    leaky = ParsedMessage(
        headers=[(f"X-A{nul}", f"b{nul}c")],
        subject=f"Question{nul}",
        from_=[Address(name=f"Bob{nul}", email="bob@customer.test")],
        to=[Address(name="Support", email=f"support{nul}@example.test")],
        message_id=f"<leak{nul}@customer.test>",
        references=[f"<r{nul}@x.test>"],
        text_body=f"body{nul}",
        html_body=f"<p>{nul}</p>",
        attachments=[AttachmentInfo(f"a{nul}.pdf", f"application/pdf{nul}", 3, f"c{nul}", "2")],
        defects=[f"a defect naming {nul}"],
    )
    monkeypatch.setattr(incoming, "parse_message", lambda raw: leaky)
    raw = b"Subject: Question\x00\r\n\r\nbody\x00\r\n"

    message = store_one(mailbox_folder(make_mailbox()), 1, raw)

    assert message is not None
    _check_row(message, raw)
    message = Message.objects.get(pk=message.pk)
    assert message.subject == "Question\ufffd"
    assert message.headers == [["X-A\ufffd", "b\ufffdc"]]
    assert (message.from_name, message.from_all[0]["name"]) == ("Bob\ufffd", "Bob\ufffd")
    assert message.to[0]["email"] == "support\ufffd@example.test"
    assert message.message_id == "<leak\ufffd@customer.test>"
    assert message.references == ["<r\ufffd@x.test>"]
    assert (message.text_body, message.html_body) == ("body\ufffd", "<p>\ufffd</p>")
    attachment = Attachment.objects.get(message=message)
    assert (attachment.filename, attachment.content_type, attachment.content_id) == (
        "a\ufffd.pdf",
        "application/pdf\ufffd",
        "c\ufffd",
    )
    assert message.is_malformed
    assert message.defects == [
        "a defect naming \ufffd",
        "NUL replaced in attachment content_id, attachment content_type, "
        "attachment filename, defects, from_all, from_name, headers, html_body, message_id, "
        "references, subject, text_body, to",
    ]
    # Processing reads the row back as a parse and runs as for any message.
    process_messages([message.pk])
    assert ProcessingRecord.objects.get(message=message).state == "done"


def test_a_server_error_text_with_nul_is_recorded(make_mailbox: Callable[..., Mailbox]) -> None:
    # What a server says is stored as the mailbox's status (and an outbox row's last error).
    mailbox = make_mailbox()
    error = imaplib.IMAP4.error("[UNAVAILABLE] try\x00 later")

    reason = record_failure(mailbox, error)

    mailbox.refresh_from_db()
    assert (
        mailbox.status_detail == reason == "the IMAP server refused: [UNAVAILABLE] try\ufffd later"
    )
    smtp = classify(smtplib.SMTPResponseException(550, b"no\x00 such user"))
    assert (smtp.kind, smtp.reason) == (
        "permanent",
        "the SMTP server refused: 550 no\ufffd such user",
    )


def mailbox_folder(mailbox: Mailbox) -> Any:
    return mailbox.folders.get(name="INBOX")
