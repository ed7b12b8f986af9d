"""Create and change mailboxes. Callers validate input (forms, the CLI); these are atomic."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from mailroom.models import Folder, Mailbox, MailboxConnection


@dataclass
class MailboxInput:
    """Everything an administrator sets on a mailbox, apart from the password."""

    label: str
    email: str
    imap_host: str = ""
    imap_port: int = 993
    imap_encryption: str = "ssl"
    imap_enabled: bool = True
    smtp_host: str = ""
    smtp_port: int = 465
    smtp_encryption: str = "ssl"
    smtp_enabled: bool = True
    username: str = ""
    account_type: str = "other"
    processor_kind: str = "none"
    processor_settings: dict[str, Any] = field(default_factory=dict)


_CONNECTION_FIELDS = (
    "imap_host",
    "imap_port",
    "imap_encryption",
    "imap_enabled",
    "smtp_host",
    "smtp_port",
    "smtp_encryption",
    "smtp_enabled",
    "username",
)


@transaction.atomic
def save_mailbox(
    data: MailboxInput, *, password: str | None, mailbox: Mailbox | None = None
) -> Mailbox:
    """Create a mailbox, or update ``mailbox``; ``password=None`` keeps the stored one."""
    if mailbox is None:
        mailbox = Mailbox()
    mailbox.label = data.label
    mailbox.email = data.email
    mailbox.account_type = data.account_type
    mailbox.processor_kind = data.processor_kind
    mailbox.processor_settings = data.processor_settings
    mailbox.save()
    connection, _ = MailboxConnection.objects.get_or_create(mailbox=mailbox)
    for name in _CONNECTION_FIELDS:
        setattr(connection, name, getattr(data, name))
    if password is not None:
        connection.set_password(password)
    connection.save()
    return mailbox


@transaction.atomic
def set_folders(mailbox: Mailbox, known: Iterable[str], selected: Iterable[str] | None) -> None:
    """Record the server's folders and, unless ``selected`` is None, which of them are synced.

    A folder that is unselected or gone from the server is kept, with its messages: stored
    mail is never deleted because of a configuration change.
    """
    selected_set = set(selected) if selected is not None else set()
    known_set = set(known) | selected_set
    existing = {f.name: f for f in mailbox.folders.all()}
    for name in known_set - existing.keys():
        Folder.objects.create(mailbox=mailbox, name=name, selected=name in selected_set)
    if selected is None:
        return
    for name, folder in existing.items():
        wanted = name in selected_set
        if folder.selected != wanted:
            folder.selected = wanted
            folder.save(update_fields=["selected"])


@transaction.atomic
def set_access(mailbox: Mailbox, *, user_ids: Iterable[int], group_ids: Iterable[int]) -> None:
    """Who besides administrators may read the mailbox: these users and members of these roles."""
    mailbox.authorized_users.set(list(user_ids))
    mailbox.authorized_groups.set(list(group_ids))
