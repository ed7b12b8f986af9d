"""``mailroom sync --once``: fetch new mail, process it and send the replies it causes, then exit.

Runs the same task functions as ``mailroom run``: the folders are synced in this thread while
a processing worker runs the pipeline over each stored chunk and a send worker sends the
replies. On a terminal it draws a progress bar of the import.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from mailroom.models import Mailbox, OutboxMessage, OutboxState, ProcessingRecord, ProcessingState
from mailroom.outbox.send import due_outbox_ids, recover_interrupted, send_outbox
from mailroom.pipeline.engine import pending_message_ids, process_messages
from mailroom.sync.mailbox import sync_mailbox
from mailroom.tasks.dispatch import set_executor
from mailroom.tasks.executor import EmbeddedExecutor
from mailroom.tasks.jobs import enqueue_processing


class ProgressBar:
    """One line, redrawn in place: "INBOX  [#####-----]  1,200 of 20,000"."""

    WIDTH = 30

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.last = 0.0

    def __call__(self, folder_id: int, stored: int, left: int) -> None:
        now = time.monotonic()
        if left and now - self.last < 0.2:
            return
        self.last = now
        total = stored + left
        filled = self.WIDTH * stored // total if total else self.WIDTH
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        self.out.write(f"\r  folder {folder_id}  [{bar}]  {stored:,} of {total:,} stored ")
        if not left:
            self.out.write("\n")
        self.out.flush()


class Command(BaseCommand):
    help = "Fetch new mail of the selected folders, process it and send the replies it causes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--once", action="store_true", required=True, help="one pass, then exit"
        )
        parser.add_argument("--mailbox", type=int, help="only this mailbox id")
        parser.add_argument(
            "--no-progress", action="store_true", help="no progress bar, even on a terminal"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        mailbox_id = options["mailbox"]
        if mailbox_id is not None and not Mailbox.objects.filter(pk=mailbox_id).exists():
            raise CommandError(f"there is no mailbox {mailbox_id}")
        mailboxes = Mailbox.objects.order_by("id")
        if mailbox_id is not None:
            mailboxes = mailboxes.filter(pk=mailbox_id)
        started = timezone.now()
        show = sys.stderr.isatty() and not options["no_progress"]
        progress = ProgressBar(sys.stderr) if show else None
        stored: list[int] = []

        def on_stored(ids: list[int]) -> None:
            stored.extend(ids)
            enqueue_processing(ids)

        executor = EmbeddedExecutor({"process": 1, "send": 1})
        executor.start()
        set_executor(executor)
        errors: dict[str, str] = {}
        skipped: list[str] = []
        try:
            for box_id in mailboxes.values_list("pk", flat=True):
                report = sync_mailbox(box_id, force=True, on_stored=on_stored, progress=progress)
                if report.error:
                    errors[str(box_id)] = report.error
                for folder in report.folders:
                    if folder.skipped:
                        # Another sync holds it (or held it when it was killed: its lease runs
                        # out within MAILROOM_LEASE_SECONDS). Say so rather than report 0 stored.
                        skipped.append(f"{box_id}:{folder.folder}")
                        self.stderr.write(
                            f"mailbox {box_id}, folder {folder.folder!r}: another sync holds "
                            "it; not synced this time"
                        )
            executor.wait_idle()
        finally:
            set_executor(None)
            executor.stop()
        # What the workers did not get to (a task lost, or commits the workers never saw).
        process_messages(pending_message_ids(mailbox_id))
        recover_interrupted()
        for outbox_id in due_outbox_ids():
            send_outbox(outbox_id)
        processed = sum(
            ProcessingRecord.objects.filter(
                message_id__in=stored[i : i + 5000], state=ProcessingState.DONE
            ).count()
            for i in range(0, len(stored), 5000)
        )
        sent = OutboxMessage.objects.filter(state=OutboxState.SENT, sent_at__gte=started).count()
        self.stdout.write(
            json.dumps(
                {
                    "stored": len(stored),
                    "processed": processed,
                    "sent": sent,
                    "skipped": skipped,
                    "errors": errors,
                }
            )
        )
        if errors:
            raise CommandError("; ".join(errors.values()))
