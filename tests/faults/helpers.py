"""What the fault tests share: customer mail, an answering rule, counts, Dovecot's own records."""

from __future__ import annotations

import imaplib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import format_datetime
from typing import Any

import pytest
from django.core.management.base import CommandError
from django.utils import timezone

from mailroom.mailboxes.actions import MailboxInput, save_mailbox, set_folders
from mailroom.models import (
    Alert,
    Attachment,
    AutoResponseRule,
    Case,
    EmailTemplate,
    EmailTemplateTranslation,
    Lead,
    Mailbox,
    Message,
    MessageCopy,
    OutboxMessage,
    ProcessingRecord,
    RuleCondition,
)
from tests.conftest import run_cli
from tests.servers.dovecot import DovecotServer


def customer_mail(n: int, *, subject: str = "Question", extra: bytes = b"") -> bytes:
    """A mail from a person (Return-Path, recent Date) that the answering rule replies to.

    Each ``n`` has its own sender, so the once-per-sender-per-week limit never hides a reply.
    """
    return (
        b"Return-Path: <customer%d@customer.test>\r\n"
        b"From: Customer %d <customer%d@customer.test>\r\n"
        b"To: Support <support@example.test>\r\n"
        b"Subject: %s %d\r\n"
        b"Message-ID: <fault-%d@customer.test>\r\n"
        b"Date: %s\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"\r\n"
        b"Hello, this is question %d.\r\n%s"
    ) % (
        n,
        n,
        n,
        subject.encode(),
        n,
        n,
        format_datetime(timezone.now()).encode(),
        n,
        extra,
    )


def answering_rule(mailbox: Mailbox, contains: str = "Question") -> AutoResponseRule:
    """A rule that answers every mail whose subject contains ``contains``."""
    template = EmailTemplate.objects.create(name=f"ack-{mailbox.pk}", default_language="en")
    EmailTemplateTranslation.objects.create(
        template=template, language="en", subject="Re: {{ subject }}", body="We got it.\n"
    )
    rule = AutoResponseRule.objects.create(mailbox=mailbox, name="Acknowledge", template=template)
    RuleCondition.objects.create(rule=rule, field="subject", operator="contains", value=contains)
    return rule


def create_mailbox(
    *,
    host: str,
    port: int,
    username: str,
    password: str,
    smtp_port: int = 25,
    smtp_enabled: bool = True,
    label: str = "Support",
    folders: tuple[str, ...] = ("INBOX",),
    processor: str = "none",
) -> Mailbox:
    """A mailbox on any IMAP server (a private Dovecot, a scripted peer), without the CLI."""
    mailbox = save_mailbox(
        MailboxInput(
            label=label,
            email="support@example.test",
            imap_host=host,
            imap_port=port,
            imap_encryption="none",
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
            smtp_encryption="none",
            smtp_enabled=smtp_enabled,
            username=username,
            processor_kind=processor,
        ),
        password=password,
    )
    set_folders(mailbox, known=folders, selected=folders)
    return mailbox


def sync_once() -> dict[str, Any]:
    """``mailroom sync --once`` in-process; its JSON report. Fails the test on an error."""
    report: dict[str, Any] = json.loads(run_cli("sync", "--once"))
    return report


def sync_failing() -> str:
    """``mailroom sync --once`` that must report an error; the error text."""
    try:
        run_cli("sync", "--once")
    except CommandError as exc:
        return str(exc)
    raise AssertionError("the sync reported no error")


TABLES = (Message, MessageCopy, Attachment, ProcessingRecord, Case, Lead, OutboxMessage, Alert)


def row_counts() -> dict[str, int]:
    """How many rows each table that sync and processing write holds."""
    return {model.__name__: model.objects.count() for model in TABLES}


@dataclass(frozen=True)
class SessionStats:
    """What Dovecot logged when one IMAP session of a user ended."""

    out_bytes: int
    body_count: int
    body_bytes: int


_LOGOUT = re.compile(
    r"imap\((?P<user>[^)]+)\)<[^>]*><[^>]*>: Info: Disconnected: [^\n]*?"
    r"out=(?P<out>\d+)[^\n]*?body_count=(?P<count>\d+) body_bytes=(?P<bytes>\d+)"
)


def ended_sessions(server: DovecotServer, user: str, *, wait: float = 5.0) -> list[SessionStats]:
    """Dovecot's account of every ended IMAP session of ``user``: bytes sent, bodies fetched.

    Waits until every successful login has its "Disconnected" line (Dovecot logs
    asynchronously), so the numbers are complete.
    """
    deadline = time.monotonic() + wait
    while True:
        found = [
            SessionStats(int(m["out"]), int(m["count"]), int(m["bytes"]))
            for m in _LOGOUT.finditer(server.log)
            if m["user"] == user.lower()
        ]
        if len(found) >= server.login_count(user) or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def open_alerts(mailbox: Mailbox, key: str) -> int:
    """Open alerts of the mailbox for one problem."""
    return Alert.objects.filter(mailbox=mailbox, key=key, resolved_at__isnull=True).count()


# The two downloads of a sync: sizes (and arrival times) first, then the bodies.
SIZES_FETCH = rb"UID FETCH [0-9,:]+ \(?[^\r\n]*RFC822\.SIZE"
BODIES_FETCH = rb"UID FETCH [0-9,:]+ \(?[^\r\n]*BODY(\.PEEK)?\["


def before_imap_command(
    monkeypatch: pytest.MonkeyPatch,
    pattern: bytes,
    action: Callable[[list[int]], None],
    *,
    times: int = 1,
) -> list[list[int]]:
    """Run ``action(uids)`` just before the client sends a command matching ``pattern``, for
    the first ``times`` such commands; return the UID sets of every matching command sent.

    The hook sits where every IMAP command leaves the process (imaplib's ``send``), so it
    holds however the sync builds its commands; the server sees the command right after.
    """
    regex = re.compile(pattern, re.IGNORECASE)
    sent: list[list[int]] = []
    real_send = imaplib.IMAP4.send

    def send(self: imaplib.IMAP4, data: bytes) -> None:
        if regex.search(data):
            uids = uid_set(data)
            sent.append(uids)
            if len(sent) <= times:
                action(uids)
        real_send(self, data)

    monkeypatch.setattr(imaplib.IMAP4, "send", send)
    return sent


def uid_set(command: bytes) -> list[int]:
    """The UIDs a ``UID FETCH 1,3:5 (...)`` command names."""
    match = re.search(rb"UID FETCH ([0-9,:]+)", command, re.IGNORECASE)
    assert match is not None, command
    uids: list[int] = []
    for part in match.group(1).split(b","):
        first, _, last = part.partition(b":")
        uids.extend(range(int(first), int(last or first) + 1))
    return uids
