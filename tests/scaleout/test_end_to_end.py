"""The end-to-end scenarios of tests/test_end_to_end.py in the scale-out shape: ``mailroom
worker``, ``mailroom watch`` and ``mailroom beat`` as separate processes on PostgreSQL and Redis,
Dovecot pushing, aiosmtpd receiving the replies."""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User

from mailroom.mailboxes.actions import set_folders
from mailroom.models import (
    Case,
    Folder,
    Mailbox,
    Message,
    MessageCopy,
    OutboxMessage,
    OutboxState,
    ProcessingRecord,
    ProcessingState,
)
from tests.scaleout.processes import Cluster, free_port
from tests.scaleout.scenario import (
    assert_each_once,
    question,
    start_deployment,
    task_runs,
    wait_for_sweeps,
)
from tests.servers.fixtures import ImapAccount
from tests.servers.smtp import SmtpSink
from tests.test_end_to_end import CUSTOMER_MAIL, _answering_rule, _reply

pytestmark = pytest.mark.django_db(transaction=True)

COPIES = 20

AUTO_REPLY = CUSTOMER_MAIL.replace(
    b"Subject:", b"Auto-Submitted: auto-replied\r\nSubject:"
).replace(b"<printer-1@", b"<printer-auto@")
INVOICE = (
    CUSTOMER_MAIL.replace(b"Printer on fire", b"Invoice 7")
    .replace(b"<printer-1@", b"<invoice-7@")
    .replace(b"alice@", b"bob@")
)


def _held(mailbox: Mailbox) -> bool:
    mailbox.refresh_from_db()
    return bool(mailbox.watch_owner)


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text: str = response.read().decode()
    return text


def _sample(text: str, sample: str) -> float:
    """One sample's value in Prometheus's text format; 0 when absent."""
    found = re.search("^" + re.escape(sample) + r" ([0-9.e+-]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def _synced(folder: Folder) -> bool:
    folder.refresh_from_db()
    return folder.last_synced_at is not None


def test_a_new_email_becomes_a_case_and_is_answered_once(
    cluster: Cluster,
    make_mailbox: Callable[..., Mailbox],
    imap_account: ImapAccount,
    smtp_server: SmtpSink,
    admin_user: User,
) -> None:
    mailbox = make_mailbox(processor="case", owner=admin_user.username)
    _answering_rule(mailbox)
    imap_account.append("INBOX", CUSTOMER_MAIL)

    ports = {"worker": free_port(), "watch0": free_port()}
    worker, _watch, _beat = start_deployment(cluster, metrics=ports)

    cluster.until(
        lambda: OutboxMessage.objects.filter(state=OutboxState.SENT).exists(), 30, "a reply sent"
    )
    # Each process counts what it did; the worker's pool processes are summed.
    worker_metrics = _scrape(ports["worker"])
    watch_metrics = _scrape(ports["watch0"])
    assert _sample(worker_metrics, 'mailroom_messages_processed_total{state="done"}') == 1
    assert _sample(worker_metrics, "mailroom_replies_sent_total") == 1
    synced = _sample(worker_metrics, "mailroom_messages_synced_total") + _sample(
        watch_metrics, "mailroom_messages_synced_total"
    )
    assert synced == 1
    case = Case.objects.get()
    assert case.subject == "Printer on fire"
    assert case.owner == admin_user
    assert case.message is not None and case.message.read_raw() == CUSTOMER_MAIL
    outbox = OutboxMessage.objects.get()
    assert len(smtp_server.accepted) == 1
    mail = smtp_server.accepted[0]
    assert mail.mail_from == "<>"
    assert mail.rcpt_tos == ["alice@customer.test"]
    reply = _reply(smtp_server)
    assert reply["Subject"] == "Re: Printer on fire"
    assert reply["In-Reply-To"] == "<printer-1@customer.test>"
    assert reply["References"].split() == ["<earlier@customer.test>", "<printer-1@customer.test>"]
    assert reply["Auto-Submitted"] == "auto-replied"
    assert reply["Message-ID"] == outbox.message_id

    # The sweeps that follow find nothing left to do: no second message, case or reply.
    wait_for_sweeps(cluster, worker)
    assert Message.objects.count() == 1
    assert Case.objects.count() == 1
    assert len(smtp_server.messages) == 1
    assert ProcessingRecord.objects.get().state == ProcessingState.DONE


def test_mail_arriving_while_watched_is_pushed_processed_and_answered_as_its_rules_say(
    cluster: Cluster,
    make_mailbox: Callable[..., Mailbox],
    imap_account: ImapAccount,
    smtp_server: SmtpSink,
) -> None:
    mailbox = make_mailbox(processor="case")
    _answering_rule(mailbox)
    folder = mailbox.folders.get()
    # No safety poll during the test: only a push can bring the mail in time.
    worker, _watch, _beat = start_deployment(cluster, MAILROOM_POLL_SECONDS="3600")
    cluster.until(lambda: _held(mailbox) and _synced(folder), 30, "the mailbox watched")
    syncs_by_workers = task_runs(worker, "sync_folder")

    imap_account.append("INBOX", CUSTOMER_MAIL)
    imap_account.append("INBOX", AUTO_REPLY)
    imap_account.append("INBOX", INVOICE)

    cluster.until(
        lambda: ProcessingRecord.objects.filter(state=ProcessingState.DONE).count() == 3,
        15,
        "three pushed messages processed",
    )
    cluster.until(lambda: len(smtp_server.accepted) == 1, 15, "the one reply delivered")
    wait_for_sweeps(cluster, worker)
    # Fetched by the watcher on its IDLE connection, not by a sync task.
    assert task_runs(worker, "sync_folder") == syncs_by_workers
    # The auto-reply is kept apart: automatic mail makes no Case.
    assert Case.objects.count() == 2
    answered = ProcessingRecord.objects.get(message__message_id="<printer-1@customer.test>")
    assert answered.rule_hits == ["Acknowledge"]
    automated = ProcessingRecord.objects.get(message__message_id="<printer-auto@customer.test>")
    assert automated.automated_reason
    missed = ProcessingRecord.objects.get(message__message_id="<invoice-7@customer.test>")
    assert missed.rule_misses == ["Acknowledge"] and missed.rule_hits == []
    outbox = OutboxMessage.objects.get()
    assert outbox.state == OutboxState.SENT
    assert outbox.in_reply_to is not None
    assert outbox.in_reply_to.message_id == "<printer-1@customer.test>"
    assert len(smtp_server.messages) == 1
    assert _reply(smtp_server)["In-Reply-To"] == "<printer-1@customer.test>"


def test_the_same_mail_arriving_in_two_watched_folders_at_once_is_stored_and_answered_once(
    cluster: Cluster,
    make_mailbox: Callable[..., Mailbox],
    imap_account: ImapAccount,
    smtp_server: SmtpSink,
) -> None:
    imap_account.create_folder("Important")
    mailbox = make_mailbox(processor="case")
    _answering_rule(mailbox, contains="Question")
    set_folders(mailbox, known=["INBOX", "Important"], selected=["INBOX", "Important"])
    folders = list(mailbox.folders.filter(selected=True))
    worker, _watch, _beat = start_deployment(cluster, MAILROOM_POLL_SECONDS="3600")
    cluster.until(
        lambda: _held(mailbox) and all(_synced(f) for f in folders), 30, "both folders watched"
    )

    # Delivered to both folders in the same instant (a filter that files a copy): each
    # folder's watcher is told at once, and both store the same bytes concurrently.
    mails = [question(n) for n in range(COPIES)]
    for raw in mails:
        imap_account.deliver(raw, "INBOX")
        imap_account.deliver(raw, "Important")

    cluster.until(
        lambda: Message.objects.count() + MessageCopy.objects.count() == 2 * COPIES,
        15,
        "every location stored",
    )
    cluster.until(lambda: len(smtp_server.accepted) >= COPIES, 15, "the replies delivered")
    wait_for_sweeps(cluster, worker)
    assert_each_once(mailbox, smtp_server, COPIES)
    assert MessageCopy.objects.count() == COPIES
