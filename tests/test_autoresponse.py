"""Loop safety end to end: automatic mail is stored and processed but never answered."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from mailroom.models import (
    AutoResponseRule,
    EmailTemplate,
    EmailTemplateTranslation,
    Lead,
    LeadSource,
    Mailbox,
    Message,
    MessageCopy,
    OutboxMessage,
    ProcessingRecord,
    ProcessingState,
    SalesChannel,
)
from tests.conftest import run_cli
from tests.servers.fixtures import ImapAccount
from tests.servers.smtp import SmtpSink

AUTOMATED = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "automated"

pytestmark = pytest.mark.django_db

PERSON = (
    b"Return-Path: <carla@customer.test>\r\n"
    b"From: =?utf-8?q?Carla_D=C3=ADaz?= <carla@customer.test>\r\n"
    b"To: sales@example.test\r\n"
    b"Subject: Price for 40 licences\r\n"
    b"Message-ID: <price-1@customer.test>\r\n"
    b"\r\n"
    b"What would 40 licences cost?\r\n"
)


def _answer_everything(mailbox: Mailbox) -> None:
    """A rule without conditions: every message matches, only loop safety can stop a reply."""
    template = EmailTemplate.objects.create(name="thanks")
    EmailTemplateTranslation.objects.create(
        template=template, language="en", subject="Thanks", body="We got it."
    )
    AutoResponseRule.objects.create(mailbox=mailbox, name="Everything", template=template)


def _with_header(header: bytes) -> bytes:
    return PERSON.replace(b"Subject:", header + b"\r\nSubject:", 1)


@pytest.mark.parametrize(
    "mail",
    [
        _with_header(b"Auto-Submitted: auto-replied"),
        _with_header(b"Auto-Submitted: auto-generated"),
        _with_header(b"Auto-Submitted: auto-notified"),
        _with_header(b"Precedence: bulk"),
        _with_header(b"Precedence: list"),
        _with_header(b"Precedence: junk"),
        _with_header(b"List-Id: <news.customer.test>"),
        _with_header(b"List-Unsubscribe: <mailto:leave@customer.test>"),
        PERSON.replace(b"Return-Path: <carla@customer.test>", b"Return-Path: <>"),
        PERSON.replace(b"Return-Path: <carla@customer.test>\r\n", b""),
        PERSON.replace(b"Return-Path: <carla@", b"Return-Path: <MAILER-DAEMON@"),
    ],
    ids=[
        "auto-replied",
        "auto-generated",
        "auto-notified",
        "precedence-bulk",
        "precedence-list",
        "precedence-junk",
        "list-id",
        "list-unsubscribe",
        "null-return-path",
        "no-return-path",
        "mailer-daemon",
    ],
)
def test_it_never_answers_automatic_mail(
    mail: bytes,
    make_mailbox: Callable[..., Mailbox],
    imap_account: ImapAccount,
    smtp_server: SmtpSink,
) -> None:
    _answer_everything(make_mailbox())
    imap_account.append("INBOX", mail)

    run_cli("sync", "--once")

    record = ProcessingRecord.objects.get()
    assert record.state == ProcessingState.DONE
    assert record.rule_hits == ["Everything"]
    assert "reply suppressed" in record.steps[-1]["detail"]
    assert not OutboxMessage.objects.exists()
    assert smtp_server.messages == []


def test_it_answers_a_person_once_per_rule_within_seven_days(
    make_mailbox: Callable[..., Mailbox], imap_account: ImapAccount, smtp_server: SmtpSink
) -> None:
    _answer_everything(make_mailbox())
    imap_account.append("INBOX", PERSON)
    imap_account.append("INBOX", PERSON.replace(b"price-1", b"price-2"))

    run_cli("sync", "--once")

    assert len(smtp_server.accepted) == 1
    second = ProcessingRecord.objects.order_by("message_id").last()
    assert second is not None and "already answered" in second.steps[-1]["detail"]


def test_it_never_answers_any_message_of_the_automated_corpus(
    make_mailbox: Callable[..., Mailbox], imap_account: ImapAccount, smtp_server: SmtpSink
) -> None:
    files = sorted(p for p in AUTOMATED.iterdir() if p.is_file())
    assert len(files) > 300, f"corpus not found at {AUTOMATED}"
    _answer_everything(make_mailbox())
    for path in files:
        # APPEND sets the arrival time to now, so the age limit cannot be what suppresses.
        imap_account.append("INBOX", path.read_bytes())

    run_cli("sync", "--once")

    # The corpus holds a few byte-identical duplicates: one email each, at two locations.
    assert Message.objects.count() + MessageCopy.objects.count() == len(files)
    assert not ProcessingRecord.objects.exclude(state=ProcessingState.DONE).exists()
    assert not OutboxMessage.objects.exists()
    assert smtp_server.messages == []
    # Each one was recognised as automatic.
    assert not ProcessingRecord.objects.filter(automated_reason="").exists()


def test_it_turns_mail_into_a_lead_with_source_and_owner(
    make_mailbox: Callable[..., Mailbox], imap_account: ImapAccount, admin_user: User
) -> None:
    LeadSource.objects.create(name="Email")
    SalesChannel.objects.create(name="Direct")
    make_mailbox(processor="lead", owner=admin_user.username, source="Email")
    imap_account.append("INBOX", PERSON)

    run_cli("sync", "--once")

    lead = Lead.objects.get()
    assert lead.name == "Carla Díaz"
    assert lead.email == "carla@customer.test"
    assert lead.source is not None and lead.source.name == "Email"
    assert lead.channel is not None and lead.channel.name == "Direct"
    assert lead.owner == admin_user
    assert lead.message == Message.objects.get()
