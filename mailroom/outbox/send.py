"""Send outbox rows through their mailbox's SMTP server: retried until DATA, at most once after.

A row is claimed by locking it (``FOR UPDATE SKIP LOCKED``) and moving it from ``pending`` to
``sending`` with a lease (owner token and expiry), so two senders never take the same row.
Just before the message data goes out, ``data_started_at`` is committed. An attempt
interrupted before that moment (a kill, a refused connection, a 4xx, a broken connection in
MAIL or RCPT) sent nothing and is retried with backoff. One interrupted after it may have been
delivered: the row is abandoned, shown and alerted, never sent again.

A reply a person wrote in mailroom (``sent_copy`` set) goes from the mailbox's address to all
its To and Cc addresses in one transaction; once it is sent it is noted on its Case and copied
to the Sent folder (:mod:`mailroom.replies.after_send`), and a copy still due is made by
itself when the row's task runs again.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from mailroom import conf, metrics
from mailroom.alerts import raise_alert
from mailroom.credentials import CredentialError
from mailroom.leases import LeaseField, LeaseKeeper, new_owner
from mailroom.mailboxes.servers import smtp_settings
from mailroom.models import OutboxMessage, OutboxState, SentCopy
from mailroom.replies.after_send import after_sent
from mailroom.replies.sent_copy import copy_to_sent, sent_copy_due
from mailroom.transport.errors import SendAmbiguous, SendRefused, TransportError
from mailroom.transport.smtp import send_message, send_to_all

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
OUTBOX_LEASE = LeaseField(OutboxMessage)

INTERRUPTED = "interrupted after the message data started to go out; not sent again"


def _lease_ttl() -> timedelta:
    """A send renews its lease while it talks to the server; a killed one's ends this soon."""
    return timedelta(seconds=conf.LEASE_SECONDS)


def _retry_delay(attempts: int) -> timedelta:
    return timedelta(minutes=min(2**attempts, 60))


def _claim(outbox_id: int, owner: str) -> bool:
    """Move the row from pending to sending under our lease, if it is due and nobody holds it.

    ``SELECT … FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite has one writer and ignores it): a
    second worker claiming the same row at the same moment skips it at once instead of waiting
    on the first one's lock and then finding it taken.
    """
    now = timezone.now()
    with transaction.atomic():
        due = (
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(pk=outbox_id, state=OutboxState.PENDING)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        )
        if not due.values_list("pk", flat=True):
            return False
        claimed = OutboxMessage.objects.filter(pk=outbox_id, state=OutboxState.PENDING).update(
            state=OutboxState.SENDING, lease_owner=owner, lease_until=now + _lease_ttl()
        )
    return claimed == 1


def _alert_abandoned(row: OutboxMessage, why: str) -> None:
    raise_alert(
        row.mailbox_id,
        f"abandoned:{row.pk}",
        f"A reply to {row.to_email} (outbox #{row.pk}) may or may not have been delivered: {why}",
    )


def recipients(row: OutboxMessage) -> list[str]:
    """Every envelope recipient of the row: its To addresses (``to_email`` holds several,
    comma-separated, for a reply a person wrote) and its Cc addresses."""
    to = [address.strip() for address in row.to_email.split(",") if address.strip()]
    return list(dict.fromkeys([*to, *row.cc]))


def _is_written(row: OutboxMessage) -> bool:
    """Whether a person wrote the row in mailroom (an autoresponse has no copy to Sent)."""
    return row.sent_copy != SentCopy.NONE


def _attempt(row: OutboxMessage, owner: str) -> tuple[OutboxState, str]:
    """Send the row once; return its new state and the error, if any."""
    connection = row.mailbox.connection
    if not connection.smtp_enabled:
        # Sending is off for this mailbox: nothing goes out; the row waits until it is on.
        return OutboxState.PENDING, "SMTP is disabled for this mailbox"

    def data_starts() -> None:
        marked = OutboxMessage.objects.filter(OUTBOX_LEASE.held_by(owner), pk=row.pk).update(
            data_started_at=timezone.now()
        )
        if marked != 1:
            raise SendRefused("the send lease was lost before the data went out", code=451)

    try:
        settings = smtp_settings(connection)
        if _is_written(row):
            # A person's reply: from the mailbox, to all its recipients in one transaction,
            # and delivery reports come back to the mailbox (not the null path of RFC 3834).
            send_to_all(
                settings,
                mail_from=row.mailbox.email,
                rcpts=recipients(row),
                raw=bytes(row.raw),
                on_data=data_starts,
            )
        else:
            send_message(
                settings, mail_from="", rcpt=row.to_email, raw=bytes(row.raw), on_data=data_starts
            )
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
    owner = new_owner()
    if not _claim(outbox_id, owner):
        # A reply sent already whose copy to the Sent folder is still to be made (retried by
        # itself, or left by a sender that stopped between the two): the copy only.
        if sent_copy_due(outbox_id):
            copy_to_sent(outbox_id)
        return None
    row = OutboxMessage.objects.select_related("mailbox__connection").get(pk=outbox_id)
    smtp_on = row.mailbox.connection.smtp_enabled
    if smtp_on:
        row.attempts += 1
    with LeaseKeeper(OUTBOX_LEASE, outbox_id, owner, _lease_ttl()):
        state, error = _attempt(row, owner)
    changes: dict[str, object] = {
        "state": state,
        "attempts": row.attempts,
        "last_error": error,
        "lease_owner": "",
        "lease_until": None,
    }
    if state == OutboxState.PENDING:
        changes["next_attempt_at"] = timezone.now() + _retry_delay(row.attempts)
        changes["data_started_at"] = None
    if state == OutboxState.SENT:
        changes["sent_at"] = timezone.now()
    recorded = OutboxMessage.objects.filter(pk=outbox_id, lease_owner=owner).update(**changes)
    if state == OutboxState.SENT and recorded == 1:
        after_sent(outbox_id)
    if state == OutboxState.SENT:
        # The counter is of autoresponses; replies people write are not among them.
        if not _is_written(row):
            metrics.ANSWERED.inc()
    elif error:
        metrics.FAILURES.labels("send", state).inc()
    if state == OutboxState.ABANDONED:
        _alert_abandoned(row, error)
    logger.info("outbox %s -> %s: %s", outbox_id, row.to_email, state)
    return OutboxState(state)


def recover_interrupted() -> int:
    """Rows whose sender died mid-send: retried when the data had not started to go out,
    abandoned (with an alert) when it had. Returns how many were found."""
    expired = OutboxMessage.objects.filter(
        state=OutboxState.SENDING, lease_until__lt=timezone.now()
    )
    retried = expired.filter(data_started_at__isnull=True).update(
        state=OutboxState.PENDING,
        lease_owner="",
        lease_until=None,
        last_error="interrupted before the message data went out; retried",
    )
    abandoned = list(expired.filter(data_started_at__isnull=False))
    for row in abandoned:
        OutboxMessage.objects.filter(pk=row.pk, state=OutboxState.SENDING).update(
            state=OutboxState.ABANDONED, lease_owner="", lease_until=None, last_error=INTERRUPTED
        )
        _alert_abandoned(row, INTERRUPTED)
    return retried + len(abandoned)


def due_outbox_ids(limit: int | None = None) -> list[int]:
    """Rows waiting to be sent whose retry time has come, through mailboxes that may send,
    and sent replies whose copy to the Sent folder is due and not being made."""
    now = timezone.now()
    copy_due = Q(state=OutboxState.SENT, sent_copy=SentCopy.PENDING) & (
        Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    )
    ids = (
        OutboxMessage.objects.filter(
            (
                Q(state=OutboxState.PENDING, mailbox__connection__smtp_enabled=True)
                & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            )
            | copy_due
        )
        .order_by("id")
        .values_list("id", flat=True)
    )
    return list(ids[:limit] if limit is not None else ids)
