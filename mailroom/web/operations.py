"""What the mailbox screens do besides saving the form: ask for a sync, dismiss an alert, delete.

Named actions, so that views never change rows themselves (they belong with
:mod:`mailroom.mailboxes.actions`, and can move there as they are).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from mailroom.alerts import resolve_alert
from mailroom.models import Alert, Case, Lead, Mailbox, OutboxState
from mailroom.tasks.dispatch import enqueue


def request_sync(mailbox: Mailbox) -> int:
    """Sync the selected folders of ``mailbox`` now, even during a backoff; how many folders.

    A refused login is still not tried again until the credentials change: the engine decides
    that, whatever is asked here. With IMAP switched off nothing is asked.
    """
    if not mailbox.connection.imap_enabled:
        return 0
    # Folders marked missing too: the periodic polls skip them, so this is how one that is
    # back on the server is found again.
    folder_ids = list(mailbox.folders.filter(selected=True).values_list("pk", flat=True))
    Mailbox.objects.filter(pk=mailbox.pk).update(retry_at=None)
    for folder_id in folder_ids:
        enqueue("sync_folder", folder_id, True)
    return len(folder_ids)


def dismiss_alert(alert: Alert) -> bool:
    """Resolve ``alert``; False when it was resolved already."""
    if alert.mailbox_id is None:
        return False
    return resolve_alert(alert.mailbox_id, alert.key)


@dataclass(frozen=True)
class Deletion:
    """What deleting a mailbox removes, and what it only unlinks."""

    messages: int
    folders: int
    rules: int
    queued_replies: int
    cases: int
    leads: int

    @property
    def messages_text(self) -> str:
        """The message count with thousands separators."""
        return f"{self.messages:,}"


def deletion_summary(mailbox: Mailbox) -> Deletion:
    """Count what :func:`delete_mailbox` would remove or unlink."""
    return Deletion(
        messages=mailbox.messages.count(),
        folders=mailbox.folders.count(),
        rules=mailbox.rules.count(),
        queued_replies=mailbox.outbox.filter(
            state__in=(OutboxState.PENDING, OutboxState.SENDING)
        ).count(),
        cases=Case.objects.filter(message__mailbox=mailbox).count(),
        leads=Lead.objects.filter(message__mailbox=mailbox).count(),
    )


@transaction.atomic
def delete_mailbox(mailbox: Mailbox) -> None:
    """Delete the mailbox with its settings, folders, rules, stored messages and unsent
    replies. Cases and Leads made from its mail stay, without the link to the message."""
    mailbox.delete()
