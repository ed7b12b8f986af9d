"""Alerts for administrators: raised once per open problem, resolved when it goes away."""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from mailroom.models import Alert

logger = logging.getLogger(__name__)


def raise_alert(mailbox_id: int, key: str, text: str) -> bool:
    """Open an alert unless the same problem is already open; True when a new one was made."""
    if Alert.objects.filter(mailbox_id=mailbox_id, key=key, resolved_at__isnull=True).exists():
        return False
    try:
        with transaction.atomic():
            Alert.objects.create(mailbox_id=mailbox_id, key=key, text=text)
    except IntegrityError:
        return False  # another process raised it at the same moment
    logger.warning("alert for mailbox %s: %s", mailbox_id, text)
    return True


def resolve_alert(mailbox_id: int, key: str) -> bool:
    """Close the open alert for this problem, if any; True when one was open."""
    return bool(
        Alert.objects.filter(mailbox_id=mailbox_id, key=key, resolved_at__isnull=True).update(
            resolved_at=timezone.now()
        )
    )


def notify(mailbox_id: int, key: str, text: str) -> None:
    """An alert that needs no action (a recovery): recorded already resolved."""
    now = timezone.now()
    Alert.objects.create(mailbox_id=mailbox_id, key=key, text=text, resolved_at=now)
    logger.warning("notice for mailbox %s: %s", mailbox_id, text)
