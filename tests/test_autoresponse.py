"""Loop safety end to end: automatic mail is stored and processed but never answered."""

from __future__ import annotations

import re
from collections.abc import Callable
from email import message_from_bytes, policy
from email.utils import format_datetime
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

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
from tests.rendering.texts import PARAGRAPHS
from tests.servers.fixtures import ImapAccount
from tests.servers.smtp import SmtpSink

AUTOMATED = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "automated"

pytestmark = pytest.mark.django_db

PERSON = (
    b"Return-Path: <carla@customer.test>\r\n"
    b"From: =?utf-8?q?Carla_D=C3=ADaz?= <carla@customer.test>\r\n"
    b"To: support@example.test\r\n"
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


def _dated_now(raw: bytes) -> bytes:
    """``raw`` with its (first) Date header set to now, or one added."""
    now = format_datetime(timezone.now()).encode()
    head, sep, body = raw.partition(b"\r\n\r\n") if b"\r\n\r\n" in raw else raw.partition(b"\n\n")
    newline = b"\r\n" if sep == b"\r\n\r\n" else b"\n"
    dated, count = re.subn(rb"(?im)^Date:[^\n]*(\n[ \t][^\n]*)*$", b"Date: " + now, head, count=1)
    if not count:
        dated = b"Date: " + now + newline + head
    return dated + sep + body


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
        # Dated now and appended now (APPEND sets the arrival time): the age limit cannot be
        # what suppresses.
        imap_account.append("INBOX", _dated_now(path.read_bytes()))

    run_cli("sync", "--once")

    # The corpus holds a few byte-identical duplicates: one email each, at two locations.
    assert Message.objects.count() + MessageCopy.objects.count() == len(files)
    assert not ProcessingRecord.objects.exclude(state=ProcessingState.DONE).exists()
    assert not OutboxMessage.objects.exists()
    assert smtp_server.messages == []
    # Each one was recognised as automatic.
    assert not ProcessingRecord.objects.filter(automated_reason="").exists()


def _control_mail(language: str, n: int, text: str) -> bytes:
    """An ordinary message a person writes in ``language``, dated now, no language header."""
    first = text.split("\n", 1)[0].strip(",. ")
    lines = [
        f"Return-Path: <person{n}.{language}@customer.test>",
        f"From: Person {n} <person{n}.{language}@customer.test>",
        "To: support@example.test",
        f"Subject: {first} ({n})",
        f"Date: {format_datetime(timezone.now())}",
        f"Message-ID: <control-{language}-{n}@customer.test>",
        "Content-Type: text/plain; charset=utf-8",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n" + text.replace("\n", "\r\n")).encode()


def test_ordinary_mail_in_several_languages_is_answered_once_each_in_its_language(
    make_mailbox: Callable[..., Mailbox], imap_account: ImapAccount, smtp_server: SmtpSink
) -> None:
    mailbox = make_mailbox()
    template = EmailTemplate.objects.create(name="thanks", default_language="en")
    translated = {
        "en": "We got your mail.",
        "de": "Wir haben Ihre Mail.",
        "fr": "Nous avons reçu votre message.",
        "es": "Hemos recibido su correo.",
    }
    for language, body in translated.items():
        EmailTemplateTranslation.objects.create(
            template=template, language=language, subject=f"[{language}] Thanks", body=body
        )
    AutoResponseRule.objects.create(mailbox=mailbox, name="Everything", template=template)
    sent: dict[str, str] = {}
    for n, (language, text) in enumerate(sorted(PARAGRAPHS.items())):
        for variant in range(2):
            address = f"person{2 * n + variant}.{language}@customer.test"
            sent[address] = language
            # The second sender of each language signs differently: detection reads the text.
            body = text if variant == 0 else text.rsplit("\n", 1)[0] + "\n-- \nSent from my phone"
            imap_account.append("INBOX", _control_mail(language, 2 * n + variant, body))

    run_cli("sync", "--once")
    run_cli("sync", "--once")  # a second pass changes nothing

    replies = smtp_server.wait_for(len(sent), timeout=30)
    assert len(replies) == len(sent)
    by_address = {}
    for reply in replies:
        (address,) = reply.rcpt_tos
        assert address not in by_address, f"{address} answered twice"
        by_address[address] = message_from_bytes(reply.data, policy=policy.default)
    assert set(by_address) == set(sent)
    for address, language in sent.items():
        expected = language if language in translated else "en"
        answer = by_address[address]
        assert answer["Subject"].startswith(f"[{expected}] "), (address, answer["Subject"])
        assert answer["Content-Language"] == expected


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
