"""The task functions themselves: thin, ids in, idempotent. See :mod:`mailroom.tasks.registry`."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db.models import F, Q
from django.utils import timezone

from mailroom.models import Folder, ProcessingRecord, ProcessingState
from mailroom.outbox.send import due_outbox_ids, recover_interrupted
from mailroom.outbox.send import send_outbox as send_row
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


def sync_folder(folder_id: int, force: bool = False) -> None:
    """Fetch and store new mail of one folder; its processing is enqueued chunk by chunk."""
    mailbox_id = Folder.objects.filter(pk=folder_id).values_list("mailbox_id", flat=True).first()
    if mailbox_id is None:
        return  # the mailbox or folder was deleted meanwhile
    report = sync_mailbox(mailbox_id, [folder_id], force=force, on_stored=enqueue_processing)
    if report.error:
        logger.info("folder %s: %s", folder_id, report.error)


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
        # A refused login is not tried again until the credentials change.
        .exclude(mailbox__auth_failed_version=F("mailbox__credential_version"))
        .values_list("pk", flat=True)
    )


def sweep() -> None:
    """Find unfinished work whose task was lost and enqueue it again: folders due for a poll,
    messages still pending, outbox rows due, sends interrupted by a crash."""
    recover_interrupted()
    for folder_id in due_folder_ids():
        enqueue("sync_folder", folder_id)
    cutoff = timezone.now() - SWEEP_GRACE
    stale = (
        ProcessingRecord.objects.filter(
            state=ProcessingState.PENDING, message__received_at__lt=cutoff
        )
        .order_by("message_id")
        .values_list("message_id", flat=True)[:2000]
    )
    enqueue_processing(list(stale))
    for outbox_id in due_outbox_ids(limit=500):
        enqueue("send_outbox", outbox_id)
