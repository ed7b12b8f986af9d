"""The autoresponse tests' rig: one mailbox on the real Dovecot, its SMTP sink, its rules.

Mail goes in by IMAP APPEND (or a Maildir delivery) and one ``mailroom sync --once``, which
stores it, runs the pipeline and sends what was queued, as a deployment does; answers are
what the aiosmtpd sink accepted.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from django.utils import timezone

from mailroom.models import (
    AutoResponseRule,
    EmailTemplate,
    EmailTemplateTranslation,
    Mailbox,
    ProcessingRecord,
    RuleCondition,
)
from tests.conftest import run_cli
from tests.servers.fixtures import ImapAccount
from tests.servers.smtp import ReceivedMail, SmtpSink

SENDER = "alice@cust.test"
_numbers = iter(range(1, 1_000_000))


def person(
    *headers: str,
    return_path: str | None = SENDER,
    from_: str = f"Alice Martin <{SENDER}>",
    to: str = "Support <support@example.test>",
    subject: str = "Question about my order",
    message_id: str | None = "",
    date: datetime | None = None,
    body: str = "Hello, where is my order?",
    content_type: str = "text/plain; charset=utf-8",
) -> bytes:
    """A mail a person writes. ``return_path`` None leaves the field out, "" makes it <>;
    ``message_id`` "" makes a fresh one, None leaves the field out; ``headers`` are added."""
    lines = []
    if return_path is not None:
        lines.append(f"Return-Path: <{return_path}>")
    lines += [f"From: {from_}", f"To: {to}", f"Subject: {subject}"]
    if message_id is not None:
        lines.append(f"Message-ID: {message_id or new_message_id()}")
    lines.append(f"Date: {format_datetime(date or timezone.now())}")
    lines += [*headers, "MIME-Version: 1.0", f"Content-Type: {content_type}", "", body, ""]
    return "\r\n".join(lines).encode()


def new_message_id() -> str:
    return f"<m{next(_numbers)}.{secrets.token_hex(4)}@cust.test>"


def add_rule(
    mailbox: Mailbox, name: str = "Acknowledge", *, contains: str = "", subject: str = ""
) -> AutoResponseRule:
    """A rule answering mail whose subject contains ``contains`` (everything by default) with
    a short text; an empty template subject makes the default ``Auto: <original subject>``."""
    template = EmailTemplate.objects.create(
        name=f"{name}-{mailbox.pk}-{next(_numbers)}", default_language="en"
    )
    EmailTemplateTranslation.objects.create(
        template=template, language="en", subject=subject, body="We got your message.\n"
    )
    rule = AutoResponseRule.objects.create(mailbox=mailbox, name=name, template=template)
    RuleCondition.objects.create(rule=rule, field="subject", operator="contains", value=contains)
    return rule


def add_mailbox(
    label: str, email: str, account: ImapAccount, sink: SmtpSink, processor: str = "none"
) -> Mailbox:
    """A mailbox on ``account`` sending through ``sink``, made with the CLI."""
    args = [
        "mailbox", "add",
        "--label", label,
        "--email", email,
        "--imap-host", account.host,
        "--imap-port", str(account.port),
        "--imap-encryption", "none",
        "--smtp-host", sink.host,
        "--smtp-port", str(sink.port),
        "--smtp-encryption", "none",
        "--username", account.username,
        "--password-stdin",
        "--folder", "INBOX",
        "--processor", processor,
    ]  # fmt: skip
    return Mailbox.objects.get(pk=int(run_cli(*args, stdin=account.password + "\n").strip()))


def sync() -> None:
    """One sync of every mailbox: store, process, send."""
    report: dict[str, Any] = json.loads(run_cli("sync", "--once"))
    assert not report["errors"], report


@dataclass
class Rig:
    """A mailbox with a rule that answers everything, on the real servers."""

    account: ImapAccount
    sink: SmtpSink
    mailbox: Mailbox
    rule: AutoResponseRule

    def deliver(
        self, *raws: bytes, folder: str = "INBOX", arrived: datetime | None = None
    ) -> list[ProcessingRecord]:
        """APPEND each of ``raws`` (with ``arrived`` as INTERNALDATE), sync once, and return
        the processing records made, in order."""
        known = set(ProcessingRecord.objects.values_list("pk", flat=True))
        account = self.account
        account.server.append_many(
            account.username, account.password, folder, raws, msg_time=arrived
        )
        sync()
        return list(ProcessingRecord.objects.exclude(pk__in=known).order_by("message_id"))

    @property
    def answers(self) -> list[ReceivedMail]:
        """What the SMTP sink accepted."""
        return self.sink.accepted


def detail(record: ProcessingRecord) -> str:
    """What the respond step wrote on the record."""
    return str(record.steps[-1]["detail"])


def parsed(mail: ReceivedMail) -> EmailMessage:
    """The answer as the recipient reads it."""
    message = message_from_bytes(mail.data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message
