"""Where a message lives on the server changes (threats.md §4.1 F03, F05, F07), against Dovecot.

UIDVALIDITY is reset the way it happens on a real server (dovecot-uidlist and the index files
deleted: Dovecot renumbers the folder), folders are renamed, deleted and recreated over IMAP, and
a message is COPYed into a second synced folder. Stored mail is never duplicated, processed or
answered twice, and never deleted.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from mailroom.mailboxes.actions import set_folders
from mailroom.models import (
    Alert,
    Case,
    Folder,
    Mailbox,
    MailboxStatus,
    Message,
    MessageCopy,
    OutboxMessage,
    OutboxState,
    ProcessingRecord,
    ProcessingState,
)
from tests.faults.helpers import answering_rule, customer_mail, open_alerts, sync_once
from tests.servers.fixtures import ImapAccount
from tests.servers.smtp import SmtpSink

pytestmark = pytest.mark.django_db


def _replies_by_message(smtp_server: SmtpSink) -> list[str]:
    """The In-Reply-To of every reply the SMTP server accepted."""
    from email import message_from_bytes

    return sorted(str(message_from_bytes(m.data)["In-Reply-To"]) for m in smtp_server.accepted)


# -- F03: UIDVALIDITY reset ----------------------------------------------------------------


def test_a_renumbered_folder_duplicates_nothing_alerts_once_and_takes_new_mail_once(
    make_mailbox: Callable[..., Mailbox],
    imap_account: ImapAccount,
    smtp_server: SmtpSink,
    admin_user: User,
) -> None:
    mailbox = make_mailbox(processor="case", owner=admin_user.username)
    answering_rule(mailbox)
    no_message_id = customer_mail(3).replace(b"Message-ID: <fault-3@customer.test>\r\n", b"")
    for raw in (customer_mail(1), customer_mail(2), no_message_id):
        imap_account.deliver(raw)
    sync_once()
    folder = mailbox.folders.get(name="INBOX")
    old_uidvalidity = folder.uidvalidity
    rows = dict(Message.objects.values_list("sha256", "pk"))
    assert len(rows) == 3 and Case.objects.count() == 3 and len(smtp_server.accepted) == 3

    # threats.md §6.2: delete dovecot-uidlist and dovecot.index* → a new UIDVALIDITY.
    imap_account.server.reset_uidvalidity(imap_account.username)
    sync_once()
    sync_once()  # the alert is raised once, not once per pass

    folder.refresh_from_db()
    assert folder.uidvalidity != old_uidvalidity
    # The same three rows, moved to their new location: no duplicate, no copy, no new work.
    assert dict(Message.objects.values_list("sha256", "pk")) == rows
    assert set(Message.objects.values_list("uidvalidity", flat=True)) == {folder.uidvalidity}
    assert not MessageCopy.objects.exists()
    assert Case.objects.count() == 3
    assert OutboxMessage.objects.count() == 3
    assert len(smtp_server.messages) == 3
    assert Alert.objects.filter(mailbox=mailbox, key="uidvalidity:INBOX").count() == 1
    mailbox.refresh_from_db()
    assert mailbox.status == MailboxStatus.OK

    imap_account.deliver(customer_mail(4))
    sync_once()
    sync_once()

    new = Message.objects.get(subject="Question 4")
    assert new.uidvalidity == folder.uidvalidity and not new.is_history
    assert Message.objects.count() == 4 and Case.objects.count() == 4
    # Each answered once, the mail without a Message-ID too (its reply has no In-Reply-To).
    answered = [f"<fault-{n}@customer.test>" for n in (1, 2, 4)]
    assert _replies_by_message(smtp_server) == [*answered, "None"]
    assert Alert.objects.filter(mailbox=mailbox, key="uidvalidity:INBOX").count() == 1


def test_mail_that_arrived_while_mailroom_was_away_is_new_after_a_renumbering(
    make_mailbox: Callable[..., Mailbox],
    imap_account: ImapAccount,
    smtp_server: SmtpSink,
) -> None:
    """sync.md §3.3 (4): after a UIDVALIDITY change, mail not matched by content is new (turned
    into a Case, answered) unless it arrived before the newest mail already stored.

    Here mailroom was stopped for an hour; a customer wrote meanwhile, and the server rebuilt
    its index. That mail is not history: nobody ever saw it.
    """
    now = timezone.now()
    mailbox = make_mailbox(processor="case")
    Mailbox.objects.filter(pk=mailbox.pk).update(account_started_at=now - timedelta(days=1))
    answering_rule(mailbox)
    server, user = imap_account.server, imap_account.username
    server.deliver_maildir(user, "INBOX", customer_mail(1), internal_date=now - timedelta(hours=3))
    sync_once()
    assert Case.objects.count() == 1

    server.deliver_maildir(user, "INBOX", customer_mail(2), internal_date=now - timedelta(hours=1))
    server.reset_uidvalidity(user)
    sync_once()

    fresh = Message.objects.get(subject="Question 2")
    assert not fresh.is_history
    assert Case.objects.count() == 2
    assert _replies_by_message(smtp_server) == [
        "<fault-1@customer.test>",
        "<fault-2@customer.test>",
    ]
    assert Message.objects.count() == 2
    assert Alert.objects.filter(mailbox=mailbox, key="uidvalidity:INBOX").count() == 1


# -- F05: a folder renamed, deleted, recreated ---------------------------------------------


def _two_folders(
    make_mailbox: Callable[..., Mailbox], imap_account: ImapAccount, name: str
) -> Mailbox:
    imap_account.create_folder(name)
    mailbox = make_mailbox()
    set_folders(mailbox, known=["INBOX", name], selected=["INBOX", name])
    return mailbox


def test_a_renamed_folder_is_marked_missing_keeps_its_mail_and_alerts_once(
    make_mailbox: Callable[..., Mailbox], imap_account: ImapAccount
) -> None:
    mailbox = _two_folders(make_mailbox, imap_account, "Projects")
    imap_account.append("Projects", customer_mail(1))
    imap_account.append("INBOX", customer_mail(2))
    sync_once()
    projects = mailbox.folders.get(name="Projects")
    kept = Message.objects.get(folder=projects)

    client = imap_account.client()
    try:
        client.rename_folder("Projects", "Archive")
    finally:
        client.logout()
    imap_account.append("INBOX", customer_mail(3))
    for _ in range(3):
        sync_once()  # not an error of the mailbox: the other folders go on

    projects.refresh_from_db()
    assert projects.missing and "does not exist" in projects.last_error
    assert Message.objects.get(pk=kept.pk).folder == projects  # its mail stays
    assert open_alerts(mailbox, "missing:Projects") == 1
    assert Alert.objects.filter(mailbox=mailbox).count() == 1  # no error storm
    inbox = mailbox.folders.get(name="INBOX")
    assert sorted(Message.objects.filter(folder=inbox).values_list("subject", flat=True)) == [
        "Question 2",
        "Question 3",
    ]
    mailbox.refresh_from_db()
    assert mailbox.status == MailboxStatus.OK
    # The sweep stops polling the missing folder; the other one stays due.
    from mailroom.tasks.jobs import due_folder_ids

    Folder.objects.update(next_poll_at=None)
    assert due_folder_ids() == [inbox.pk]


def test_a_deleted_and_recreated_folder_is_a_new_folder_and_old_mail_is_not_duplicated(
    make_mailbox: Callable[..., Mailbox], imap_account: ImapAccount, smtp_server: SmtpSink
) -> None:
    mailbox = _two_folders(make_mailbox, imap_account, "Projects")
    answering_rule(mailbox)
    old = customer_mail(1)
    imap_account.append("Projects", old)
    sync_once()
    projects = mailbox.folders.get(name="Projects")
    first_uidvalidity = projects.uidvalidity
    stored = Message.objects.get()

    client = imap_account.client()
    try:
        client.delete_folder("Projects")
    finally:
        client.logout()
    sync_once()
    projects.refresh_from_db()
    assert projects.missing

    # Recreated, with the old mail put back and a new one.
    imap_account.create_folder("Projects")
    imap_account.append("Projects", old)
    sync_once()  # takes the new baseline
    imap_account.append("Projects", customer_mail(2))
    sync_once()

    projects.refresh_from_db()
    assert not projects.missing
    assert projects.uidvalidity != first_uidvalidity
    assert Message.objects.count() == 2
    assert Message.objects.get(pk=stored.pk).uidvalidity == projects.uidvalidity  # moved, kept
    assert Message.objects.get(subject="Question 2").folder == projects
    assert not ProcessingRecord.objects.exclude(state=ProcessingState.DONE).exists()
    # Each mail answered once: the old one before the folder went, the new one now.
    assert _replies_by_message(smtp_server) == [
        "<fault-1@customer.test>",
        "<fault-2@customer.test>",
    ]
    assert Alert.objects.filter(mailbox=mailbox, key="uidvalidity:Projects").count() == 1
    # The folder is back: its "gone from the server" alert no longer holds.
    assert Alert.objects.filter(mailbox=mailbox, key="missing:Projects").count() == 1
    assert open_alerts(mailbox, "missing:Projects") == 0


# -- F07: the same message in two synced folders -------------------------------------------


@pytest.mark.parametrize("when", ["same pass", "later pass"])
def test_a_message_copied_into_a_second_folder_is_one_message_one_case_one_reply(
    make_mailbox: Callable[..., Mailbox],
    imap_account: ImapAccount,
    smtp_server: SmtpSink,
    when: str,
) -> None:
    imap_account.create_folder("Important")
    mailbox = make_mailbox(processor="case")
    answering_rule(mailbox)
    set_folders(mailbox, known=["INBOX", "Important"], selected=["INBOX", "Important"])
    uid = imap_account.append("INBOX", customer_mail(1))
    if when == "later pass":
        sync_once()

    # A server-side filter (or a person) copies the mail into the other synced folder.
    client = imap_account.client()
    try:
        client.select_folder("INBOX")
        client.copy([uid], "Important")
    finally:
        client.logout()
    sync_once()
    sync_once()

    message = Message.objects.get()
    copy = MessageCopy.objects.get()
    assert copy.message == message
    assert {message.folder, copy.folder} == set(mailbox.folders.all())
    assert Case.objects.count() == 1
    (reply,) = OutboxMessage.objects.all()
    assert reply.state == OutboxState.SENT
    assert len(smtp_server.messages) == 1
