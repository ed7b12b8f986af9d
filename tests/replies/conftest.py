"""The reply tests' rig: a mailbox making Cases on the real Dovecot and aiosmtpd, one stored
customer message (delivered by IMAP APPEND and synced), three people, and the tasks a request
enqueues, run as the executor would run them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from mailroom.models import Mailbox, Message, OutboxMessage
from mailroom.tasks.dispatch import set_executor
from mailroom.tasks.registry import TASKS
from tests.conftest import run_cli
from tests.servers.fixtures import ImapAccount
from tests.servers.smtp import ReceivedMail, SmtpSink

CUSTOMER = "alice@cust.test"
QUESTION_ID = "<q1.7f3a@cust.test>"
QUESTION = (
    "Return-Path: <alice@cust.test>\r\n"
    "From: Alice Martin <alice@cust.test>\r\n"
    "To: Support <support@example.test>\r\n"
    "Cc: Bob Stone <bob@cust.test>, support@example.test\r\n"
    "Subject: Re: Printer prints blank pages\r\n"
    f"Message-ID: {QUESTION_ID}\r\n"
    "In-Reply-To: <older.2@cust.test>\r\n"
    "References: <root.1@cust.test> <older.2@cust.test>\r\n"
    "Date: Tue, 03 Mar 2026 10:15:00 +0000\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "Hello,\r\n"
    "the printer on floor 3 prints blank pages.\r\n"
    "\r\n"
    "Alice\r\n"
).encode()


class Tasks:
    """Stands in for the executor: records what is enqueued; :meth:`run` runs it through the
    task registry, as the embedded executor or a Celery worker would."""

    def __init__(self) -> None:
        self.waiting: list[tuple[str, tuple[object, ...]]] = []
        self.ran: list[tuple[str, tuple[object, ...]]] = []

    def submit(self, name: str, *args: object) -> None:
        self.waiting.append((name, args))

    def run(self) -> None:
        while self.waiting:
            name, args = self.waiting.pop(0)
            self.ran.append((name, args))
            TASKS[name].run(*args)


@pytest.fixture
def tasks() -> Iterator[Tasks]:
    recorder = Tasks()
    set_executor(recorder)
    try:
        yield recorder
    finally:
        set_executor(None)


def sync() -> None:
    """One ``mailroom sync --once``: store, process, send what is due."""
    report: dict[str, Any] = json.loads(run_cli("sync", "--once"))
    assert not report["errors"], report


def parsed(mail: ReceivedMail | bytes) -> EmailMessage:
    """A sent message as its recipient reads it."""
    raw = mail if isinstance(mail, bytes) else mail.data
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


@dataclass
class Rig:
    """A Support mailbox (Convert to Case) with one customer question stored and processed."""

    account: ImapAccount
    sink: SmtpSink
    mailbox: Mailbox
    message: Message
    reader: User
    stranger: User
    clients: dict[str, Client] = field(default_factory=dict)

    def client(self, user: User) -> Client:
        if user.username not in self.clients:
            client = Client()
            client.force_login(user)
            self.clients[user.username] = client
        return self.clients[user.username]

    def reply(
        self, tasks: Tasks, user: User | None = None, *, run: bool = True, **fields: str
    ) -> OutboxMessage:
        """POST a reply as ``user`` (the reader), run the tasks it enqueued, return its row."""
        data = {
            "to": CUSTOMER,
            "cc": "",
            "subject": "Re: Printer prints blank pages",
            "format": "text",
            "body": "Hello Alice,\n\nplease check the toner seal.\n\nSupport",
            "body_html": "",
            "quote": "on",
        }
        data.update(fields)
        # ``mailroom sync --once`` installs its own executor and removes it when it ends.
        set_executor(tasks)
        before = set(OutboxMessage.objects.values_list("pk", flat=True))
        response = self.client(user or self.reader).post(
            f"/messages/{self.message.pk}/reply/", data
        )
        assert response.status_code == 302, response.content.decode()
        row = OutboxMessage.objects.exclude(pk__in=before).get()
        if run:
            tasks.run()
            row.refresh_from_db()
        return row

    def sent_folder(self, folder: str = "Sent") -> list[tuple[bytes, tuple[bytes, ...]]]:
        """(raw, flags) of every message in ``folder`` on the server."""
        client = self.account.client()
        try:
            client.select_folder(folder, readonly=True)
            found = client.fetch(client.search("ALL"), ["BODY.PEEK[]", "FLAGS"])
        finally:
            client.logout()
        return [(item[b"BODY[]"], tuple(item[b"FLAGS"])) for item in found.values()]


@pytest.fixture
def make_rig(
    transactional_db: None,
    imap_account: ImapAccount,
    smtp_server: SmtpSink,
    make_mailbox: Callable[..., Mailbox],
) -> Callable[..., Rig]:
    """Build the rig; ``settings`` go to the mailbox (e.g. ``sent_folder``)."""

    def make(**settings: Any) -> Rig:
        mailbox = make_mailbox("case")
        if settings:
            Mailbox.objects.filter(pk=mailbox.pk).update(**settings)
            mailbox.refresh_from_db()
        imap_account.append("INBOX", QUESTION)
        sync()
        message = Message.objects.get(mailbox=mailbox, message_id=QUESTION_ID)
        readers = Group.objects.create(name="Support agents")
        reader = User.objects.create_user("reader", "reader@example.test", "pw-reader-1")
        reader.groups.add(readers)
        mailbox.authorized_groups.add(readers)
        stranger = User.objects.create_user("stranger", "stranger@example.test", "pw-str-1")
        return Rig(imap_account, smtp_server, mailbox, message, reader, stranger)

    return make


@pytest.fixture
def rig(make_rig: Callable[..., Rig]) -> Rig:
    return make_rig()
