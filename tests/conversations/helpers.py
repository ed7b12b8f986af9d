"""Mail for the conversation tests: people writing, replying, and robots reporting."""

from __future__ import annotations

import json
import secrets
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

_numbers = iter(range(1, 1_000_000))


def mail(
    *,
    sender: str = "alice@customer.test",
    name: str = "Alice Martin",
    subject: str = "Printer on fire",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    body: str = "Hello, the printer is on fire.",
    headers: str = "",
) -> tuple[bytes, str]:
    """A mail a person writes (recent, with a Return-Path), and its Message-ID."""
    message_id = message_id or f"<m{next(_numbers)}.{secrets.token_hex(4)}@customer.test>"
    lines = [
        f"Return-Path: <{sender}>",
        f"From: {name} <{sender}>",
        "To: Support <support@example.test>",
        f"Subject: {subject}",
        f"Message-ID: {message_id}",
        f"Date: {format_datetime(timezone.now())}",
    ]
    if in_reply_to:
        lines.append(f"In-Reply-To: {in_reply_to}")
    if references:
        lines.append(f"References: {' '.join(references)}")
    if headers:
        lines.extend(headers.strip("\r\n").split("\n"))
    lines += ["Content-Type: text/plain; charset=utf-8", "", body, ""]
    return "\r\n".join(lines).encode(), message_id


def answering_rule(mailbox: Mailbox) -> AutoResponseRule:
    """A rule that answers every mail, its subject carrying the Case number."""
    template = EmailTemplate.objects.create(name=f"ack-{mailbox.pk}", default_language="en")
    EmailTemplateTranslation.objects.create(
        template=template,
        language="en",
        subject="Re: {{ subject }} [Case {{ case_number }}]",
        body="We opened a case for you.\n",
    )
    rule = AutoResponseRule.objects.create(mailbox=mailbox, name="Acknowledge", template=template)
    RuleCondition.objects.create(rule=rule, field="subject", operator="contains", value="")
    return rule


def deliver(account: ImapAccount, raw: bytes, folder: str = "INBOX") -> ProcessingRecord:
    """Append ``raw``, run one sync, and return the processing record of that message."""
    known = set(ProcessingRecord.objects.values_list("pk", flat=True))
    account.append(folder, raw)
    report: dict[str, Any] = json.loads(run_cli("sync", "--once"))
    assert not report["errors"], report
    (record,) = ProcessingRecord.objects.exclude(pk__in=known)
    return record
