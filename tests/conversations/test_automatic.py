"""Automatic mail kept apart, end to end: reports on our mail join its conversation and mark
it; other automatic mail creates no Lead, and no Case unless the mailbox asks for it."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from email import message_from_bytes
from email.utils import format_datetime
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from mailroom.mime.autoreply import DELIVERY_FAILED, LIST_MAIL, OUT_OF_OFFICE
from mailroom.models import (
    Case,
    Conversation,
    Lead,
    LeadSource,
    Mailbox,
    Message,
    OutboxMessage,
    ProcessingRecord,
    ProcessingState,
    SalesChannel,
)
from tests.conftest import run_cli
from tests.conversations.helpers import answering_rule, deliver, mail
from tests.servers.fixtures import ImapAccount
from tests.servers.smtp import SmtpSink

pytestmark = pytest.mark.django_db

AUTOMATED = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "automated"


def _dsn(quoted: bytes, *, headers_only: bool) -> bytes:
    """A delivery report (RFC 3464) returning ``quoted``, whole or its headers only."""
    if headers_only:
        part_type = "text/rfc822-headers"
        quoted = quoted.split(b"\r\n\r\n", 1)[0] + b"\r\n"
    else:
        part_type = "message/rfc822"
    return (
        b"Return-Path: <>\r\n"
        b"From: Mail Delivery System <MAILER-DAEMON@mx.customer.test>\r\n"
        b"To: support@example.test\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\n"
        b"Message-ID: <bounce-%s@mx.customer.test>\r\n"
        b"Date: %s\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="BOUNDARY"\r\n'
        b"\r\n"
        b"--BOUNDARY\r\n"
        b"Content-Type: text/plain; charset=us-ascii\r\n"
        b"\r\n"
        b"Your message could not be delivered to alice@customer.test.\r\n"
        b"--BOUNDARY\r\n"
        b"Content-Type: message/delivery-status\r\n"
        b"\r\n"
        b"Reporting-MTA: dns; mx.customer.test\r\n"
        b"\r\n"
        b"Final-Recipient: rfc822; alice@customer.test\r\n"
        b"Action: failed\r\n"
        b"Status: 5.1.1\r\n"
        b"--BOUNDARY\r\n"
        b"Content-Type: %s\r\n"
        b"\r\n"
        b"%s"
        b"--BOUNDARY--\r\n"
    ) % (
        secrets.token_hex(6).encode(),
        format_datetime(timezone.now()).encode(),
        part_type.encode(),
        quoted,
    )


def _case_with_our_reply(
    make_mailbox: Callable[..., Mailbox], account: ImapAccount, smtp_server: SmtpSink
) -> tuple[Case, bytes]:
    mailbox = make_mailbox(processor="case")
    answering_rule(mailbox)
    raw, _ = mail()
    record = deliver(account, raw)
    assert record.case is not None
    (sent,) = smtp_server.accepted
    return record.case, sent.data


@pytest.mark.parametrize("headers_only", [False, True], ids=["message-rfc822", "rfc822-headers"])
def test_a_delivery_report_on_our_reply_joins_its_conversation_and_marks_it(
    make_mailbox: Callable[..., Mailbox],
    imap_account: ImapAccount,
    smtp_server: SmtpSink,
    headers_only: bool,
) -> None:
    case, ours = _case_with_our_reply(make_mailbox, imap_account, smtp_server)

    record = deliver(imap_account, _dsn(ours, headers_only=headers_only))

    assert record.automated_reason
    assert record.conversation == case.conversation
    assert record.case == case and Case.objects.count() == 1
    assert record.outcome == f"joined case #{case.number}"
    assert case.conversation_id is not None
    conversation = Conversation.objects.get(pk=case.conversation_id)
    assert conversation.marks == [DELIVERY_FAILED]
    assert OutboxMessage.objects.count() == 1  # never answered


def test_a_delivery_report_quoting_unknown_mail_stays_apart(
    make_mailbox: Callable[..., Mailbox], imap_account: ImapAccount, smtp_server: SmtpSink
) -> None:
    case, _ours = _case_with_our_reply(make_mailbox, imap_account, smtp_server)
    stranger, _ = mail(sender="someone@elsewhere.test")

    record = deliver(imap_account, _dsn(stranger, headers_only=False))

    assert record.conversation is not None and record.conversation != case.conversation
    assert record.conversation.marks == [DELIVERY_FAILED]
    assert record.case is None and Case.objects.count() == 1
    assert record.outcome.startswith("no case: delivery failed")


def test_an_out_of_office_reply_to_our_reply_joins_and_marks_the_conversation(
    make_mailbox: Callable[..., Mailbox], imap_account: ImapAccount, smtp_server: SmtpSink
) -> None:
    case, ours = _case_with_our_reply(make_mailbox, imap_account, smtp_server)
    ours_id = message_from_bytes(ours)["Message-ID"]
    raw, _ = mail(
        subject="Out of Office: Re: Printer on fire",
        in_reply_to=ours_id,
        headers="Auto-Submitted: auto-replied",
        body="I am away until Monday.",
    )

    record = deliver(imap_account, raw)

    assert record.case == case and Case.objects.count() == 1
    assert case.conversation_id is not None
    assert Conversation.objects.get(pk=case.conversation_id).marks == [OUT_OF_OFFICE]
    assert OutboxMessage.objects.count() == 1


LIST_MAIL_HEADERS = "List-Id: <news.shop.test>\nPrecedence: list"


def test_list_mail_is_kept_marked_and_creates_no_case(
    make_mailbox: Callable[..., Mailbox], imap_account: ImapAccount
) -> None:
    make_mailbox(processor="case")
    raw, _ = mail(sender="news@shop.test", subject="Our spring sale", headers=LIST_MAIL_HEADERS)

    record = deliver(imap_account, raw)

    assert record.state == ProcessingState.DONE
    assert record.automated_reason and record.case is None
    assert not Case.objects.exists()
    assert record.conversation is not None and record.conversation.marks == [LIST_MAIL]
    assert record.outcome.startswith("no case: list mail")
    assert Message.objects.get().conversation == record.conversation


def test_automatic_mail_creates_cases_when_the_mailbox_says_so(
    make_mailbox: Callable[..., Mailbox], imap_account: ImapAccount
) -> None:
    make_mailbox(processor="case", automatic_cases="yes")
    raw, _ = mail(sender="news@shop.test", subject="Our spring sale", headers=LIST_MAIL_HEADERS)

    record = deliver(imap_account, raw)

    assert record.case is not None and Case.objects.count() == 1
    assert record.case.subject == "Our spring sale"


@pytest.fixture
def lead_mailbox(make_mailbox: Callable[..., Mailbox], admin_user: User) -> Mailbox:
    LeadSource.objects.create(name="Email")
    SalesChannel.objects.create(name="Direct")
    return make_mailbox(processor="lead", owner=admin_user.username, source="Email")


def test_no_message_of_the_automated_corpus_becomes_a_lead(
    lead_mailbox: Mailbox, imap_account: ImapAccount
) -> None:
    files = sorted(p for p in AUTOMATED.iterdir() if p.is_file())
    assert len(files) > 300, f"corpus not found at {AUTOMATED}"
    for path in files:
        imap_account.append("INBOX", path.read_bytes())

    run_cli("sync", "--once")

    records = ProcessingRecord.objects.all()
    assert records.count() == Message.objects.count() > 0
    assert not records.exclude(state=ProcessingState.DONE).exists()
    assert Lead.objects.count() == 0
    # Each one says why it was not converted.
    assert not records.exclude(outcome__startswith="not converted: ").exists()
    # Each one kept in a conversation of its mailbox.
    assert not Message.objects.filter(conversation__isnull=True).exists()


def test_convert_to_lead_fills_the_lead_from_the_mail(
    lead_mailbox: Mailbox, imap_account: ImapAccount, admin_user: User
) -> None:
    raw = (
        b"Return-Path: <carla@customer.test>\r\n"
        b"From: =?utf-8?q?Carla_D=C3=ADaz?= <Carla@Customer.test>\r\n"
        b"To: sales@example.test\r\n"
        b"Message-ID: <html-1@customer.test>\r\n"
        b"Content-Language: es-ES\r\n"
        b"Date: " + format_datetime(timezone.now()).encode() + b"\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n"
        b"\r\n"
        b"<html><head><style>p {color: red}</style></head><body>"
        b"<p>We need 40&nbsp;chairs.</p><p>Price?<br>Carla</p></body></html>\r\n"
    )

    record = deliver(imap_account, raw)

    lead = Lead.objects.get()
    assert record.lead == lead and record.conversation == lead.conversation
    assert record.outcome == f"lead {lead.pk} created"
    assert (lead.name, lead.email, lead.topic, lead.status) == (
        "Carla Díaz",
        "Carla@customer.test",
        "(no subject)",
        "new",
    )
    assert lead.notes == "We need 40\xa0chairs.\n\nPrice?\nCarla"
    assert lead.contact is not None and lead.contact.email == "carla@customer.test"
    assert lead.contact.language == "es-ES"
    assert lead.owner == admin_user and lead.source and lead.source.name == "Email"


def test_a_reply_joins_the_lead_of_its_conversation(
    lead_mailbox: Mailbox, imap_account: ImapAccount
) -> None:
    raw, parent = mail(subject="Chairs")
    first = deliver(imap_account, raw)
    reply, _ = mail(subject="Re: Chairs", references=[parent])

    record = deliver(imap_account, reply)

    assert Lead.objects.count() == 1
    assert record.lead == first.lead and record.outcome == f"joined lead {Lead.objects.get().pk}"
    assert Lead.objects.get().topic == "Chairs"


def test_without_an_active_sales_channel_the_mail_is_kept_and_not_converted(
    lead_mailbox: Mailbox, imap_account: ImapAccount
) -> None:
    SalesChannel.objects.update(active=False)
    raw, _ = mail(subject="Chairs")

    record = deliver(imap_account, raw)

    assert record.state == ProcessingState.DONE
    assert record.outcome == "not converted: no active sales channel"
    assert not Lead.objects.exists()
    assert record.conversation is not None and Message.objects.count() == 1
