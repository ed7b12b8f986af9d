"""Send outbox rows through their mailbox's SMTP server, at most once each.

A row is claimed by moving it from ``pending`` to ``sending`` with a lease in one UPDATE, so two
senders never take the same row. A row found still ``sending`` after its lease expired was
interrupted at an unknown point: it becomes ``abandoned`` rather than risk a second copy.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from mailroom.credentials import CredentialError
from mailroom.mailboxes.servers import smtp_settings
from mailroom.models import OutboxMessage, OutboxState
from mailroom.transport.errors import SendAmbiguous, SendRefused, TransportError
from mailroom.transport.smtp import send_message

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 5


def _retry_delay(attempts: int) -> timedelta:
    return timedelta(minutes=min(2**attempts, 60))


def _claim(outbox_id: int) -> bool:
    now = timezone.now()
    claimed = (
        OutboxMessage.objects.filter(pk=outbox_id, state=OutboxState.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(state=OutboxState.SENDING, lease_until=now + LEASE)
    )
    return claimed == 1


def _attempt(row: OutboxMessage) -> tuple[OutboxState, str]:
    """Send the row once; return its new state and the error, if any."""
    try:
        settings = smtp_settings(row.mailbox.connection)
        send_message(settings, mail_from="", rcpt=row.to_email, raw=bytes(row.raw))
    except CredentialError as exc:
        # Nothing was sent; it waits for an administrator to enter the password again.
        return OutboxState.FAILED, str(exc)
    except SendAmbiguous as exc:
        return OutboxState.ABANDONED, str(exc)
    except TransportError as exc:
        retry = not exc.permanent or (isinstance(exc, SendRefused) and exc.code < 500)
        if retry and row.attempts < MAX_ATTEMPTS:
            return OutboxState.PENDING, str(exc)
        return OutboxState.FAILED, str(exc)
    return OutboxState.SENT, ""


def send_outbox(outbox_id: int) -> OutboxState | None:
    """Try to send one row; return its new state, or None when it was not ours to send."""
    if not _claim(outbox_id):
        return None
    row = OutboxMessage.objects.select_related("mailbox__connection").get(pk=outbox_id)
    row.attempts += 1
    row.state, row.last_error = _attempt(row)
    if row.state == OutboxState.PENDING:
        row.next_attempt_at = timezone.now() + _retry_delay(row.attempts)
    if row.state == OutboxState.SENT:
        row.sent_at = timezone.now()
    row.lease_until = None
    row.save(
        update_fields=[
            "state",
            "attempts",
            "last_error",
            "next_attempt_at",
            "lease_until",
            "sent_at",
        ]
    )
    logger.info("outbox %s -> %s: %s", outbox_id, row.to_email, row.state)
    return OutboxState(row.state)


def abandon_expired() -> int:
    """Mark rows whose sender died mid-send as abandoned; return how many."""
    return OutboxMessage.objects.filter(
        state=OutboxState.SENDING, lease_until__lt=timezone.now()
    ).update(state=OutboxState.ABANDONED, last_error="interrupted while sending; not retried")


def due_outbox_ids() -> list[int]:
    """Rows waiting to be sent whose retry time has come."""
    now = timezone.now()
    return list(
        OutboxMessage.objects.filter(state=OutboxState.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by("id")
        .values_list("id", flat=True)
    )
