"""From a real IMAP mailbox to a Case and an autoresponse: Dovecot → sync → pipeline → SMTP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message as EmailMessage
from email.utils import format_datetime

import pytest
from django.contrib.auth.models import User
from django.core.management.base import CommandError

from mailroom.mailboxes.actions import set_folders
from mailroom.models import (
    Alert,
    AutoResponseRule,
    Case,
    EmailTemplate,
    EmailTemplateTranslation,
    Mailbox,
    Message,
    MessageCopy,
    OutboxMessage,
    OutboxState,
    ProcessingRecord,
    RuleCondition,
)
from tests.conftest import run_cli
from tests.servers.fixtures import ImapAccount
from tests.servers.smtp import SmtpSink

pytestmark = pytest.mark.django_db

CUSTOMER_MAIL = (
    b"Return-Path: <alice@customer.test>\r\n"
    b"From: Alice Martin <alice@customer.test>\r\n"
    b"To: Support <support@example.test>\r\n"
    b"Subject: Printer on fire\r\n"
    b"Message-ID: <printer-1@customer.test>\r\n"
    b"References: <earlier@customer.test>\r\n"
    # Written just now: mail dated longer ago than the stale limit is not answered.
    b"Date: " + format_datetime(datetime.now(UTC)).encode() + b"\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Hello, the printer in room 4 is on fire.\r\nPlease help.\r\n"
)


def _answering_rule(mailbox: Mailbox, contains: str = "printer") -> AutoResponseRule:
    template = EmailTemplate.objects.create(name="ack", default_language="en")
    EmailTemplateTranslation.objects.create(
        template=template,
        language="en",
        subject="Re: {{ subject }}",
        body="Dear {{ sender_name }},\n\nWe received your message and opened a case.\n",
    )
    rule = AutoResponseRule.objects.create(mailbox=mailbox, name="Acknowledge", template=template)
    RuleCondition.objects.create(rule=rule, field="subject", operator="contains", value=contains)
    return rule


def _reply(smtp_server: SmtpSink) -> EmailMessage:
    (mail,) = smtp_server.accepted
    return message_from_bytes(mail.data)


def test_it_turns_a_new_email_into_a_case_and_answers_once(
    make_mailbox: Callable[..., Mailbox],
    imap_account: ImapAccount,
    smtp_server: SmtpSink,
    admin_user: User,
) -> None:
    mailbox = make_mailbox(processor="case", owner=admin_user.username)
    _answering_rule(mailbox)
    imap_account.append("INBOX", CUSTOMER_MAIL)

    run_cli("sync", "--once")

    case = Case.objects.get()
    assert case.subject == "Printer on fire"
    assert case.description.replace("\r\n", "\n") == (
        "Hello, the printer in room 4 is on fire.\nPlease help.\n"
    )
    assert case.owner == admin_user
    assert case.number == case.pk
    assert case.message is not None and case.message.read_raw() == CUSTOMER_MAIL

    outbox = OutboxMessage.objects.get()
    assert outbox.state == OutboxState.SENT, outbox.last_error
    assert len(smtp_server.accepted) == 1
    mail = smtp_server.accepted[0]
    assert mail.mail_from == "<>"  # the null reverse path (RFC 3834 §3.3)
    assert mail.rcpt_tos == ["alice@customer.test"]
    reply = _reply(smtp_server)
    assert reply["To"] == "alice@customer.test"
    assert reply["Subject"] == "Re: Printer on fire"
    assert reply["In-Reply-To"] == "<printer-1@customer.test>"
    assert reply["References"].split() == ["<earlier@customer.test>", "<printer-1@customer.test>"]
    assert reply["Auto-Submitted"] == "auto-replied"
    assert reply.get_all("Cc") is None and reply.get_all("Bcc") is None
    assert "Dear Alice Martin," in reply.get_payload(decode=True).decode()
    assert reply["Message-ID"] == outbox.message_id

    # A second pass finds nothing new: no second message, case or reply.
    run_cli("sync", "--once")
    assert Message.objects.count() == 1
    assert Case.objects.count() == 1
    assert len(smtp_server.messages) == 1


def test_it_never_answers_an_auto_reply(
    make_mailbox: Callable[..., Mailbox], imap_account: ImapAccount, smtp_server: SmtpSink
) -> None:
    mailbox = make_mailbox(processor="case")
    _answering_rule(mailbox)
    imap_account.append(
        "INBOX", CUSTOMER_MAIL.replace(b"Subject:", b"Auto-Submitted: auto-replied\r\nSubject:")
    )

    run_cli("sync", "--once")

    record = ProcessingRecord.objects.get()
    assert record.automated_reason
    assert "Acknowledge" in record.rule_hits
    # Kept, in a conversation of its own marked with why, but it makes no Case.
    assert not Case.objects.exists()
    assert record.outcome.startswith("no case: out of office")
    assert record.conversation is not None and record.conversation.marks == ["out of office"]
    assert OutboxMessage.objects.count() == 0
    assert smtp_server.messages == []


def test_it_keeps_the_seen_flag_of_the_server_untouched(
    make_mailbox: Callable[..., Mailbox], imap_account: ImapAccount
) -> None:
    make_mailbox()
    uid = imap_account.append("INBOX", CUSTOMER_MAIL)

    run_cli("sync", "--once")

    client = imap_account.client()
    try:
        client.select_folder("INBOX", readonly=True)
        flags = client.get_flags([uid])[uid]
    finally:
        client.logout()
    assert b"\\Seen" not in flags
    assert Message.objects.get().uid == uid


def test_it_records_the_rule_that_did_not_match(
    make_mailbox: Callable[..., Mailbox], imap_account: ImapAccount, smtp_server: SmtpSink
) -> None:
    mailbox = make_mailbox()
    _answering_rule(mailbox, contains="invoice")
    imap_account.append("INBOX", CUSTOMER_MAIL)

    run_cli("sync", "--once")

    record = ProcessingRecord.objects.get()
    assert record.rule_misses == ["Acknowledge"]
    assert record.rule_hits == []
    assert smtp_server.messages == []


def test_it_keeps_a_flagged_placeholder_for_mail_over_the_size_limit(
    make_mailbox: Callable[..., Mailbox],
    imap_account: ImapAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mailroom import conf

    monkeypatch.setattr(conf, "MAX_MESSAGE_BYTES", 4000)
    mailbox = make_mailbox()
    big = CUSTOMER_MAIL + b"x" * 5000 + b"\r\n"
    big_uid = imap_account.append("INBOX", big)
    small_uid = imap_account.append("INBOX", CUSTOMER_MAIL)

    run_cli("sync", "--once")

    placeholder = Message.objects.get(uid=big_uid)
    assert placeholder.is_malformed
    assert placeholder.raw_size == len(big)
    assert "exceeds the download limit" in placeholder.defects[0]
    assert b"left on the server" in placeholder.read_raw()
    assert Message.objects.get(uid=small_uid).read_raw() == CUSTOMER_MAIL
    assert mailbox.folders.get(name="INBOX").last_uid == small_uid


def test_it_never_moves_the_cursor_past_a_message_it_failed_to_fetch(
    make_mailbox: Callable[..., Mailbox],
    imap_account: ImapAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mailroom import conf
    from mailroom.transport.errors import ProtocolError
    from mailroom.transport.imap import ImapSession

    monkeypatch.setattr(conf, "MAX_MESSAGE_BYTES", 4000)
    make_mailbox()
    # Distinct bytes: identical bytes would be one email with two locations.
    small = [imap_account.append("INBOX", CUSTOMER_MAIL + b"%d\r\n" % n) for n in range(2)]
    big = imap_account.append("INBOX", CUSTOMER_MAIL + b"x" * 5000 + b"\r\n")
    real_fetch = ImapSession.bodies

    def broken_fetch(self: ImapSession, uids: list[int]) -> object:
        raise ProtocolError("the connection broke (fetching messages)")

    # The connection breaks while the small messages are downloaded, after the large one's
    # size was read: nothing may be skipped.
    monkeypatch.setattr(ImapSession, "bodies", broken_fetch)
    with pytest.raises(CommandError, match="connection broke"):
        run_cli("sync", "--once")
    monkeypatch.setattr(ImapSession, "bodies", real_fetch)
    run_cli("sync", "--once")

    assert sorted(Message.objects.values_list("uid", flat=True)) == [*small, big]


def test_it_creates_no_second_case_or_reply_when_the_server_renumbers_the_folder(
    make_mailbox: Callable[..., Mailbox],
    imap_account: ImapAccount,
    smtp_server: SmtpSink,
) -> None:
    mailbox = make_mailbox(processor="case")
    _answering_rule(mailbox)
    imap_account.append("INBOX", CUSTOMER_MAIL)
    run_cli("sync", "--once")
    old_uidvalidity = mailbox.folders.get(name="INBOX").uidvalidity

    imap_account.server.reset_uidvalidity(imap_account.username)
    run_cli("sync", "--once")

    new_uidvalidity = mailbox.folders.get(name="INBOX").uidvalidity
    assert new_uidvalidity != old_uidvalidity
    # Listed once, at its new location; processed and answered once; the admin told once.
    message = Message.objects.get()
    assert message.uidvalidity == new_uidvalidity
    assert not MessageCopy.objects.exists()
    assert Case.objects.count() == 1
    assert len(smtp_server.messages) == 1
    assert Alert.objects.filter(mailbox=mailbox, key="uidvalidity:INBOX").count() == 1


def test_it_processes_a_message_copied_into_a_second_folder_once(
    make_mailbox: Callable[..., Mailbox], imap_account: ImapAccount, smtp_server: SmtpSink
) -> None:
    imap_account.create_folder("Important")
    mailbox = make_mailbox(processor="case")
    _answering_rule(mailbox)
    set_folders(mailbox, known=["INBOX", "Important"], selected=["INBOX", "Important"])
    uid = imap_account.append("INBOX", CUSTOMER_MAIL)
    client = imap_account.client()
    try:
        client.select_folder("INBOX")
        client.copy([uid], "Important")
    finally:
        client.logout()

    run_cli("sync", "--once")

    # One email at two locations.
    message = Message.objects.get()
    copy = MessageCopy.objects.get()
    assert copy.message == message and {message.folder, copy.folder} == set(mailbox.folders.all())
    assert Case.objects.count() == 1
    assert len(smtp_server.messages) == 1
