"""One full pass: sync mailboxes, process what is pending, send what is due.

Everything durable is in the database, so a pass simply looks for unfinished rows: a crash at
any point loses nothing, the next pass finds the work again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from mailroom.models import Mailbox, MailboxStatus, ProcessingRecord, ProcessingState
from mailroom.outbox.send import abandon_expired, due_outbox_ids, send_outbox
from mailroom.pipeline.engine import process_message
from mailroom.sync.mailbox import MailboxReport, set_status, sync_mailbox

logger = logging.getLogger(__name__)


@dataclass
class PassReport:
    """Counts of one pass, as ``mailroom sync --once`` prints them."""

    mailboxes: list[MailboxReport] = field(default_factory=list)
    processed: int = 0
    sent: int = 0

    @property
    def stored(self) -> int:
        """Messages stored in this pass."""
        return sum(m.stored for m in self.mailboxes)


def pending_message_ids(mailbox_id: int | None = None) -> list[int]:
    """Messages stored but not yet processed, oldest first."""
    pending = ProcessingRecord.objects.filter(state=ProcessingState.PENDING)
    if mailbox_id is not None:
        pending = pending.filter(message__mailbox_id=mailbox_id)
    return list(pending.order_by("message_id").values_list("message_id", flat=True))


def process_pending(mailbox_id: int | None = None) -> int:
    """Run the pipeline over every pending message; return how many were processed."""
    done = 0
    for message_id in pending_message_ids(mailbox_id):
        done += process_message(message_id) == ProcessingState.DONE
    return done


def send_due() -> int:
    """Send every outbox row that is due; return how many were sent."""
    abandon_expired()
    return sum(send_outbox(outbox_id) == "sent" for outbox_id in due_outbox_ids())


def run_pass(mailbox_id: int | None = None) -> PassReport:
    """Sync (one mailbox or all), process, send."""
    report = PassReport()
    mailboxes = Mailbox.objects.order_by("id")
    if mailbox_id is not None:
        mailboxes = mailboxes.filter(pk=mailbox_id)
    for mailbox in mailboxes:
        try:
            report.mailboxes.append(sync_mailbox(mailbox.pk))
        except Exception as exc:
            # One broken mailbox must not stop the others, nor processing and sending.
            logger.exception("syncing mailbox %s failed", mailbox.pk)
            error = f"internal error: {type(exc).__name__}: {exc}"
            set_status(mailbox, MailboxStatus.ERROR, error)
            report.mailboxes.append(MailboxReport(mailbox_id=mailbox.pk, error=error))
    report.processed = process_pending(mailbox_id)
    report.sent = send_due()
    return report
