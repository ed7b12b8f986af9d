"""Workers killed mid-task and workers given the same task twice (threats.md F23, F24): the
outcome is that of one clean run, whatever happened to the processes."""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Callable

import pytest
from celery import Celery

from mailroom.models import Folder, Mailbox, Message, ProcessingRecord, ProcessingState
from tests.scaleout.processes import Cluster, Proc
from tests.scaleout.scenario import assert_each_once, question
from tests.servers.fixtures import ImapAccount
from tests.servers.smtp import SmtpSink
from tests.test_end_to_end import _answering_rule

pytestmark = pytest.mark.django_db(transaction=True)

# An import big enough that a kill lands in the middle of it: small chunks, each a transaction.
MESSAGES = 300
PADDING = b"Some words to make the message bigger, as real mail is.\r\n" * 300
SYNC_ENV = {
    "MAILROOM_FETCH_BATCH": "10",
    # The broker hands an unacknowledged task to another worker after SYNC + 3 x GRACE = 13 s.
    "MAILROOM_SYNC_TASK_SECONDS": "10",
    "MAILROOM_TASK_GRACE_SECONDS": "1",
    # Every one of the MESSAGES senders is answered: above the default cap of 100 an hour.
    "MAILROOM_AUTORESPONSE_MAX_PER_HOUR": "1000",
}


def _set_up(make_mailbox: Callable[..., Mailbox], account: ImapAccount) -> tuple[Mailbox, Folder]:
    mailbox = make_mailbox(processor="case")
    _answering_rule(mailbox, contains="Question")
    # Arrived after the mailbox was added: new mail, each to be answered.
    for n in range(MESSAGES):
        account.deliver(question(n) + PADDING)
    return mailbox, mailbox.folders.get()


def _send_sync(cluster: Cluster, folder_id: int, copies: int = 1) -> None:
    """Put sync_folder(folder_id) on the broker ``copies`` times, as a redelivery would."""
    client = Celery(broker=cluster.env["CELERY_BROKER_URL"])
    try:
        for _ in range(copies):
            client.send_task("mailroom.sync_folder", args=[folder_id], queue="mailroom.sync")
    finally:
        client.close()


def _stored() -> int:
    return Message.objects.count()


def _task_ids(proc: Proc) -> list[str]:
    return re.findall(r"Task mailroom\.sync_folder\[([0-9a-f-]+)\] received", proc.output)


def _kill_mid_import(cluster: Cluster, target: Callable[[], None]) -> int:
    """Kill (``target``) once a quarter of the import is stored; return the count then."""
    cluster.until(
        lambda: _stored() >= MESSAGES // 4, 60, "a quarter of the import stored", every=0.002
    )
    target()
    at_kill = _stored()
    assert at_kill < MESSAGES, "the import finished before the kill: no kill mid-task"
    return at_kill


def _wait_for_outcome(cluster: Cluster, timeout: float) -> None:
    cluster.until(lambda: _stored() == MESSAGES, timeout, f"all {MESSAGES} messages stored")
    cluster.until(
        lambda: ProcessingRecord.objects.filter(state=ProcessingState.DONE).count() == MESSAGES,
        60,
        "every message processed",
        explain=_not_done,
    )


def _not_done() -> str:
    """The messages not processed yet, for a failure: no record (its task lost, waiting for
    the sweep), or a record waiting, failed or retrying, with its error."""
    unrecorded = Message.objects.filter(processing__isnull=True).count()
    pending = list(
        ProcessingRecord.objects.exclude(state=ProcessingState.DONE).values_list(
            "message__uid", "state", "attempts", "retry_at", "error"
        )[:20]
    )
    return f"stored without a record: {unrecorded}; records not done: {pending}"


def _assert_clean_run(mailbox: Mailbox, folder: Folder, smtp: SmtpSink) -> None:
    """What one uninterrupted import leaves: UIDs 1..N stored once, the cursor at N, each
    message processed once and answered once."""
    assert sorted(Message.objects.values_list("uid", flat=True)) == list(range(1, MESSAGES + 1))
    folder.refresh_from_db()
    assert folder.last_uid == MESSAGES
    assert folder.lease_owner == ""
    assert_each_once(mailbox, smtp, MESSAGES)
    assert len(smtp.messages) == MESSAGES


def test_a_sync_whose_pool_process_is_killed_is_redelivered_and_finishes_as_if_nothing_happened(
    cluster: Cluster,
    make_mailbox: Callable[..., Mailbox],
    imap_account: ImapAccount,
    smtp_server: SmtpSink,
) -> None:
    mailbox, folder = _set_up(make_mailbox, imap_account)
    syncer = cluster.worker("syncer", "--queues=sync", "--concurrency=1", **SYNC_ENV)
    # The processor also runs the sweep: beat's sweeps would otherwise wait on a queue no
    # worker reads, and a processing task lost to the kill would never be sent again.
    cluster.worker("processor", "--queues=process,send,sweep", "--concurrency=1", **SYNC_ENV)
    (child,) = syncer.children()
    _send_sync(cluster, folder.pk)

    _kill_mid_import(cluster, lambda: os.kill(child, signal.SIGKILL))
    # A kill that lands between a chunk's commit and the sending of its processing task loses
    # that task (it never reached the broker): the sweep finds those messages once they have
    # waited its grace (30 s), as in any deployment, where beat always runs.
    cluster.start("beat", "beat", "--every=1", ready="sending the sweep", **SYNC_ENV)

    _wait_for_outcome(cluster, 90)
    cluster.until(lambda: len(smtp_server.accepted) >= MESSAGES, 60, "every reply delivered")
    # The pool's parent saw its child die and put the task back; it ran again, under the same
    # id, in the fresh pool process, and took over once the dead one's lease ran out.
    # (The sweep may have sent syncs of its own since: the killed task is the first received.)
    assert "exited prematurely: signal 9 (SIGKILL)" in syncer.output, cluster.report()
    killed, *later = _task_ids(syncer)
    assert killed in later, cluster.report()
    assert child not in syncer.children()
    _assert_clean_run(mailbox, folder, smtp_server)


def test_a_sync_whose_whole_worker_is_killed_is_redelivered_to_another_worker(
    cluster: Cluster,
    make_mailbox: Callable[..., Mailbox],
    imap_account: ImapAccount,
    smtp_server: SmtpSink,
) -> None:
    mailbox, folder = _set_up(make_mailbox, imap_account)
    first = cluster.worker("sync-first", "--queues=sync", "--concurrency=1", **SYNC_ENV)
    cluster.worker("processor", "--queues=process,send,sweep", "--concurrency=1", **SYNC_ENV)
    _send_sync(cluster, folder.pk)

    _kill_mid_import(cluster, first.kill)
    # A fresh worker on another machine, say: the broker gives it the unacknowledged task once
    # the visibility timeout (13 s here) has passed.
    second = cluster.worker("sync-second", "--queues=sync", "--concurrency=1", **SYNC_ENV)
    # A kill that lands between a chunk's commit and the sending of its processing task loses
    # that task (it was never in the broker): the sweep finds those messages once they have
    # waited its grace (30 s), as in any deployment, where beat always runs.
    cluster.start("beat", "beat", "--every=1", ready="sending the sweep", **SYNC_ENV)

    _wait_for_outcome(cluster, 90)
    cluster.until(lambda: len(smtp_server.accepted) >= MESSAGES, 60, "every reply delivered")
    # The sweep may have finished the import first; the lost task still comes back, and
    # changes nothing.
    (task_id,) = set(_task_ids(first))
    cluster.until(lambda: task_id in _task_ids(second), 30, "the killed task redelivered")
    cluster.until(
        lambda: not Folder.objects.filter(pk=folder.pk).exclude(lease_owner="").exists(),
        30,
        "the redelivered task done with the folder",
    )
    _assert_clean_run(mailbox, folder, smtp_server)


def test_two_workers_given_the_same_sync_at_once_store_everything_once(
    cluster: Cluster,
    make_mailbox: Callable[..., Mailbox],
    imap_account: ImapAccount,
    smtp_server: SmtpSink,
) -> None:
    mailbox, folder = _set_up(make_mailbox, imap_account)
    workers = [
        cluster.worker(f"sync-{n}", "--queues=sync", "--concurrency=1", **SYNC_ENV)
        for n in range(2)
    ]
    cluster.worker("processor", "--queues=process,send", "--concurrency=1", **SYNC_ENV)

    _send_sync(cluster, folder.pk, copies=2)

    _wait_for_outcome(cluster, 60)
    cluster.until(lambda: len(smtp_server.accepted) >= MESSAGES, 60, "every reply delivered")
    cluster.until(
        lambda: (
            all(w.output.count("mailroom.sync_folder[") >= 2 for w in workers)
            and not Folder.objects.filter(pk=folder.pk).exclude(lease_owner="").exists()
        ),
        30,
        "both sync tasks finished",
    )
    # Each worker took one copy; one found the folder held by the other and did not store.
    assert all(_task_ids(w) for w in workers), cluster.report()
    held = [w for w in workers if "another sync holds it; looking again" in w.output]
    assert len(held) == 1, cluster.report()
    for worker in workers:
        assert "lease was lost" not in worker.output, cluster.report()
    folder.refresh_from_db()
    assert folder.imported == MESSAGES  # every chunk was stored once, by one sync
    _assert_clean_run(mailbox, folder, smtp_server)
