"""Two workers at the same folder, a lease taken over, a mailbox deleted mid-sync
(threats.md §4.1 F24, F25, F27, F28), against Dovecot and aiosmtpd.

Concurrency is tested with real processes on one SQLite file, as deployed: the test database
of pytest-django is an in-memory SQLite shared between threads, where a writer locks whole
tables, which says nothing about the real one. Dovecot's log tells how many message bodies each
session downloaded, so "no double work" is counted at the server, not inferred.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from mailroom import conf
from mailroom.leases import new_owner
from mailroom.models import (
    Folder,
    Mailbox,
    MailboxConnection,
    MailboxStatus,
    Message,
    ProcessingRecord,
)
from mailroom.store.incoming import LeaseLost, store_chunk
from mailroom.sync import folder as folder_sync
from mailroom.sync.folder import FOLDER_LEASE
from mailroom.sync.mailbox import sync_mailbox
from mailroom.tasks import jobs
from tests.faults.helpers import (
    BODIES_FETCH,
    before_imap_command,
    customer_mail,
    ended_sessions,
    sync_once,
)
from tests.faults.processes import Installation
from tests.servers.fixtures import ImapAccount
from tests.servers.smtp import SmtpSink

# -- F24/F25: two syncs of one folder at once ----------------------------------------------

# Run by ``mailroom shell -c``: a sync whose first FETCH waits (holding the folder's lease)
# until the test has run another sync of the same folder.
HELD_SYNC = """
import imaplib, json, os, re, time
from mailroom.sync.mailbox import sync_mailbox

real_send = imaplib.IMAP4.send

def held_send(self, data):
    if re.search(rb"UID FETCH .*BODY", data):
        deadline = time.monotonic() + 60
        while not os.path.exists(os.environ["RELEASE_FILE"]) and time.monotonic() < deadline:
            time.sleep(0.02)
    real_send(self, data)

imaplib.IMAP4.send = held_send
report = sync_mailbox(int(os.environ["MAILBOX_ID"]), force=True)
print(json.dumps({"stored": report.stored, "error": report.error}))
"""


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.02)


def test_a_second_sync_of_a_folder_being_synced_does_nothing(
    tmp_path: Path, migrated: Path, imap_account: ImapAccount, smtp_server: SmtpSink
) -> None:
    site = Installation(tmp_path, MAILROOM_FETCH_BATCH="5")
    mailbox_id = site.set_up(imap_account, smtp_server, migrated=migrated)
    for n in range(12):
        imap_account.deliver(customer_mail(n))
    release = tmp_path / "release"

    first = site.start(
        "shell", "-c", HELD_SYNC, MAILBOX_ID=str(mailbox_id), RELEASE_FILE=str(release)
    )
    try:
        _wait(
            lambda: (
                first.poll() is not None
                or site.scalar("SELECT lease_owner FROM mailroom_folder") != ""
            ),
            30,
            "the first sync holds the folder",
        )
        assert first.poll() is None, first.communicate()
        # The beat fires again (or a redelivered task runs) while the first sync works.
        second = json.loads(site.run("sync", "--once"))
        assert second["stored"] == 0 and second["errors"] == {}
        assert site.scalar("SELECT count(*) FROM mailroom_message") == 0
    finally:
        release.touch()
        out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1]) == {"stored": 12, "error": ""}

    site.run("sync", "--once")  # processes and answers what the first sync stored
    assert site.query("SELECT count(*), count(DISTINCT uid) FROM mailroom_message") == [(12, 12)]
    assert site.scalar("SELECT count(*) FROM mailroom_case") == 12
    assert len(smtp_server.accepted) == 12
    # Dovecot's count: every body went out once, all of them to the first sync.
    bodies = [s.body_count for s in ended_sessions(imap_account.server, imap_account.username)]
    assert sum(bodies) == 12 and max(bodies) == 12


@pytest.mark.django_db
def test_a_sync_whose_lease_was_taken_over_cannot_write(
    make_mailbox: Callable[..., Mailbox],
    imap_account: ImapAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mailbox = make_mailbox()
    for n in range(4):
        imap_account.append("INBOX", customer_mail(n))
    folder = mailbox.folders.get(name="INBOX")
    usurper = new_owner()
    real_store = folder_sync.store_chunk

    def stalled_past_the_lease(stale: Folder, **kwargs: Any) -> Any:
        # This sync stalled past its lease after downloading; another worker took over.
        Folder.objects.filter(pk=folder.pk).update(
            lease_until=timezone.now() - timedelta(seconds=1)
        )
        assert FOLDER_LEASE.claim(folder.pk, usurper, timedelta(seconds=60))
        return real_store(stale, **kwargs)

    monkeypatch.setattr(folder_sync, "store_chunk", stalled_past_the_lease)
    report = sync_mailbox(mailbox.pk, force=True)

    assert "lease" in report.error
    assert not Message.objects.exists()
    folder.refresh_from_db()
    assert folder.last_uid == 0 and folder.imported == 0
    assert folder.lease_owner == usurper  # the loser's release did not free the new holder
    mailbox.refresh_from_db()
    assert mailbox.status == MailboxStatus.NEW  # not a failure of the mailbox
    # A chunk from a stale holder is refused whole, whatever it carries.
    with pytest.raises(LeaseLost):
        store_chunk(
            folder, owner=new_owner(), uidvalidity=folder.uidvalidity or 0, items=[], cursor=9
        )
    folder.refresh_from_db()
    assert folder.last_uid == 0

    FOLDER_LEASE.release(folder.pk, usurper)
    monkeypatch.setattr(folder_sync, "store_chunk", real_store)
    sync_once()
    assert sorted(Message.objects.values_list("uid", flat=True)) == [1, 2, 3, 4]


# -- F27: two worker processes on one SQLite file ------------------------------------------


def test_two_sync_processes_on_one_sqlite_file_do_each_piece_of_work_once(
    tmp_path: Path, migrated: Path, imap_account: ImapAccount, smtp_server: SmtpSink
) -> None:
    site = Installation(tmp_path, MAILROOM_FETCH_BATCH="4")
    site.set_up(imap_account, smtp_server, migrated=migrated)
    total = 0
    for _ in range(2):
        for _ in range(24):
            imap_account.deliver(customer_mail(total))
            total += 1
        workers = [site.start("sync", "--once") for _ in range(2)]
        for worker in workers:
            out, err = worker.communicate(timeout=120)
            assert worker.returncode == 0, out + err
            assert "database is locked" not in out + err
            assert "Traceback" not in err

    assert site.query("SELECT count(*), count(DISTINCT uid) FROM mailroom_message") == [
        (total, total)
    ]
    assert site.scalar("SELECT last_uid FROM mailroom_folder") == total
    assert site.query("SELECT DISTINCT state FROM mailroom_processingrecord") == [("done",)]
    assert site.scalar("SELECT count(*) FROM mailroom_case") == total
    assert site.query("SELECT DISTINCT state FROM mailroom_outboxmessage") == [("sent",)]
    replies = Counter(str(message_from_bytes(m.data)["In-Reply-To"]) for m in smtp_server.accepted)
    assert len(replies) == total and set(replies.values()) == {1}
    assert len(smtp_server.messages) == total
    bodies = ended_sessions(imap_account.server, imap_account.username)
    assert sum(s.body_count for s in bodies) == total  # each message downloaded once


# -- F28: the mailbox is deleted while it syncs --------------------------------------------


@pytest.mark.django_db
def test_a_mailbox_deleted_mid_sync_stops_the_sync_and_leaves_no_rows(
    make_mailbox: Callable[..., Mailbox],
    imap_account: ImapAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(conf, "FETCH_BATCH", 2)
    mailbox = make_mailbox()
    for n in range(12):
        imap_account.deliver(customer_mail(n))
    folder_id = mailbox.folders.get(name="INBOX").pk
    real_store = folder_sync.store_chunk
    stores: list[int] = []

    def deleted_before_the_first_store(folder: Folder, **kwargs: Any) -> Any:
        stores.append(kwargs["cursor"])
        if len(stores) == 1:
            Mailbox.objects.filter(pk=mailbox.pk).delete()  # an administrator deletes it
        return real_store(folder, **kwargs)

    monkeypatch.setattr(folder_sync, "store_chunk", deleted_before_the_first_store)
    downloads = before_imap_command(monkeypatch, BODIES_FETCH, lambda uids: None, times=0)
    jobs.sync_folder(folder_id)  # the task: it must end quietly

    assert stores == [2]  # nothing stored, and no further chunk tried
    assert len(downloads) < 6  # the download stopped too (a chunk or two were under way)
    assert not Mailbox.objects.exists()
    assert not Folder.objects.exists()
    assert not Message.objects.exists()
    assert not ProcessingRecord.objects.exists()
    jobs.sync_folder(folder_id)  # a stale task for it finds nothing to do
    assert stores == [2]


@pytest.mark.django_db
def test_a_pass_goes_on_with_the_other_mailboxes_when_one_is_deleted_during_it(
    make_mailbox: Callable[..., Mailbox],
    imap_account: ImapAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = imap_account.server
    server.add_user("second-" + imap_account.username, imap_account.password)
    first = make_mailbox(label="First")
    second = make_mailbox(label="Second")
    MailboxConnection.objects.filter(mailbox=second).update(
        username="second-" + imap_account.username
    )
    imap_account.append("INBOX", customer_mail(1))
    server.deliver_maildir("second-" + imap_account.username, "INBOX", customer_mail(2))
    real_store = folder_sync.store_chunk

    def the_other_is_deleted(folder: Folder, **kwargs: Any) -> Any:
        # While the first mailbox syncs, an administrator deletes the second one.
        Mailbox.objects.filter(pk=second.pk).delete()
        return real_store(folder, **kwargs)

    monkeypatch.setattr(folder_sync, "store_chunk", the_other_is_deleted)
    report = sync_once()

    assert report["stored"] == 1 and report["processed"] == 1
    assert list(Message.objects.values_list("mailbox_id", "subject")) == [(first.pk, "Question 1")]
    assert not Mailbox.objects.filter(pk=second.pk).exists()
