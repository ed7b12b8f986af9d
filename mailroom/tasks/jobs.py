"""The task functions themselves: thin, ids in, idempotent. See :mod:`mailroom.tasks.registry`."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db.models import F, Q
from django.utils import timezone

from mailroom.models import Folder
from mailroom.outbox.send import due_outbox_ids, recover_interrupted
from mailroom.outbox.send import send_outbox as send_row
from mailroom.pipeline.engine import due_records
from mailroom.pipeline.engine import process_messages as run_pipeline
from mailroom.sync.mailbox import sync_mailbox
from mailroom.tasks.dispatch import enqueue

logger = logging.getLogger(__name__)

# Work younger than this is probably still in a queue; the sweep leaves it to its task.
SWEEP_GRACE = timedelta(seconds=30)


def enqueue_processing(message_ids: list[int]) -> None:
    """Have the pipeline run over newly stored messages, after their commit."""
    if message_ids:
        enqueue("process_messages", tuple(message_ids))


class TryLater(Exception):
    """The task cannot do its work now: run it again, with ``args``, after ``seconds``."""

    def __init__(self, seconds: float, *args: object) -> None:
        super().__init__(f"try again in {seconds:.1f} s")
        self.seconds = seconds
        self.task_args = args


# Past a held sync lease's expiry, this much longer before looking again.
LEASE_MARGIN = 0.5


def sync_folder(folder_id: int, force: bool = False, recheck: bool = True) -> None:
    """Fetch and store new mail of one folder; its processing is enqueued chunk by chunk.

    Another sync may hold the folder: a live one (it does the work), or one that died with its
    process (a killed worker, a database restart), whose lease runs out unrenewed. Either way
    this task looks once more when that lease has run out (:class:`TryLater`): a dead holder's
    work is then taken over at once rather than at the next safety poll, and mail that came
    after a live holder's search is not left behind. Held again by then, the folder is in live
    hands, and this task ends.
    """
    mailbox_id = Folder.objects.filter(pk=folder_id).values_list("mailbox_id", flat=True).first()
    if mailbox_id is None:
        return  # the mailbox or folder was deleted meanwhile
    report = sync_mailbox(mailbox_id, [folder_id], force=force, on_stored=enqueue_processing)
    if report.error:
        logger.info("folder %s: %s", folder_id, report.error)
        return
    if any(folder.skipped for folder in report.folders):
        if not recheck:
            logger.info("folder %s: another sync holds it and renews its lease", folder_id)
            return
        until = Folder.objects.filter(pk=folder_id).values_list("lease_until", flat=True).first()
        left = 0.0 if until is None else (until - timezone.now()).total_seconds()
        logger.info("folder %s: another sync holds it; looking again in %.1f s", folder_id, left)
        raise TryLater(max(left, 0.0) + LEASE_MARGIN, folder_id, force, False)
    if Folder.objects.filter(pk=folder_id, backlog__gt=0).exists():
        # The sync ran out of time (MAILROOM_SYNC_TASK_SECONDS) with mail still to fetch: it
        # resumes from its cursor in a new task now, not at the next safety poll.
        enqueue("sync_folder", folder_id, force)


def process_messages(message_ids: tuple[int, ...]) -> None:
    """Run the pipeline over these messages (those still pending)."""
    run_pipeline(message_ids)


def send_outbox(outbox_id: int) -> None:
    """Send one outbox row if it is still due."""
    send_row(outbox_id)


def due_folder_ids() -> list[int]:
    """Selected folders whose safety poll is due, of mailboxes no live watcher holds and that
    are not waiting out a backoff."""
    now = timezone.now()
    return list(
        Folder.objects.filter(selected=True, missing=False, mailbox__connection__imap_enabled=True)
        .filter(Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now))
        .filter(Q(mailbox__retry_at__isnull=True) | Q(mailbox__retry_at__lte=now))
        .filter(Q(mailbox__watch_until__isnull=True) | Q(mailbox__watch_until__lt=now))
        # A folder a live sync holds is not due; one whose sync died is, once its lease ends.
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        # A refused login is not tried again until the credentials change.
        .exclude(mailbox__auth_failed_version=F("mailbox__credential_version"))
        .values_list("pk", flat=True)
    )


def sweep() -> None:
    """Find unfinished work whose task was lost and enqueue it again: folders due for a poll,
    messages still pending (and those whose retry after a failed attempt is due), outbox rows
    due, sends interrupted by a crash."""
    recover_interrupted()
    for folder_id in due_folder_ids():
        enqueue("sync_folder", folder_id)
    now = timezone.now()
    stale = (
        due_records(now)
        # A message never tried yet is left to its own task for a while; a failed attempt's
        # retry has no task waiting for it, so it is enqueued as soon as it is due.
        .filter(Q(retry_at__isnull=False) | Q(message__received_at__lt=now - SWEEP_GRACE))
        .order_by("message_id")
        .values_list("message_id", flat=True)[:2000]
    )
    enqueue_processing(list(stale))
    for outbox_id in due_outbox_ids(limit=500):
        enqueue("send_outbox", outbox_id)
