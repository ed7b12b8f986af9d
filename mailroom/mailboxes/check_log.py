"""The rate limit and audit log of "Check connection" (threats.md S07, S19).

Each check asked for in the product is written to :class:`ConnectionCheck` before mailroom
connects anywhere, and the same rows count a person's checks: past
``MAILROOM_CHECKS_PER_MINUTE`` in the last 60 seconds, the check is refused (logged as
refused) and nothing is connected to. The rows live in the database, so every web process of
the scale-out shape counts the same checks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from ipaddress import ip_address

from django.utils import timezone

from mailroom import conf
from mailroom.models import CheckOutcome, ConnectionCheck, Mailbox, MailboxConnection

WINDOW = timedelta(seconds=60)


@dataclass(frozen=True)
class TooMany:
    """A check refused by the rate limit: how long until the next one is allowed."""

    seconds: int

    def __str__(self) -> str:
        return (
            f"Too many connection checks: at most {conf.CHECKS_PER_MINUTE} a minute. "
            f"Try again in {self.seconds} second{'s' if self.seconds != 1 else ''}."
        )


def begin_check(
    user_id: int,
    address: str,
    connection: MailboxConnection,
    mailbox: Mailbox | None,
) -> ConnectionCheck | TooMany:
    """Log a check about to run, or refuse it (logged too) when the person ran too many."""
    now = timezone.now()
    recent = list(
        ConnectionCheck.objects.filter(user_id=user_id, at__gt=now - WINDOW)
        .exclude(outcome=CheckOutcome.REFUSED)
        .order_by("-at")
        .values_list("at", flat=True)[: conf.CHECKS_PER_MINUTE]
    )
    refused = len(recent) >= conf.CHECKS_PER_MINUTE
    entry = ConnectionCheck.objects.create(
        user_id=user_id,
        mailbox=mailbox,
        address=_address(address),
        imap_host=connection.imap_host,
        imap_port=connection.imap_port,
        smtp_host=connection.smtp_host,
        smtp_port=connection.smtp_port if connection.smtp_host else None,
        username=connection.username,
        outcome=CheckOutcome.REFUSED if refused else CheckOutcome.FAILED,
    )
    if refused:
        # The oldest of the checks that fill the window leaves it first.
        left = (recent[-1] + WINDOW - now).total_seconds()
        return TooMany(max(1, math.ceil(left)))
    return entry


def end_check(entry: ConnectionCheck, errors: list[str]) -> None:
    """Record what came of the check: worked, or failed with the errors the page shows."""
    entry.outcome = CheckOutcome.FAILED if errors else CheckOutcome.WORKED
    entry.error = "\n".join(errors)[:2000]
    entry.save(update_fields=["outcome", "error"])


def recent_checks(limit: int = 20) -> list[ConnectionCheck]:
    """The latest checks, newest first, for the Health page."""
    return list(ConnectionCheck.objects.select_related("user", "mailbox")[:limit])


def _address(text: str) -> str | None:
    try:
        return str(ip_address(text))
    except ValueError:
        return None
