"""Create and change mailboxes. Callers validate input (forms, the CLI); these are atomic."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from mailroom.alerts import resolve_alert
from mailroom.models import (
    Alert,
    Case,
    Folder,
    Lead,
    Mailbox,
    MailboxConnection,
    OutboxMessage,
    OutboxState,
)
from mailroom.tasks.dispatch import enqueue


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
    # How much mail already on the server a new account imports: "none", "days" or "all".
    history_mode: str = "none"
    history_days: int | None = None
    history_convert: bool = False
    # Answers' language when the sender's is unknown ("" = each response's default).
    language: str = ""
    # Other addresses whose mail reaches the mailbox, one per line.
    aliases: str = ""
    # Where replies written in mailroom are copied ("" = the server's \Sent folder); None
    # keeps the stored choice (callers that do not set it, such as the CLI and imports).
    sent_folder: str | None = None


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


# Changing one of these connects a different account (the seed: "a new mailbox will be
# registered"): its folders start fresh and the mail stored so far is kept, marked as earlier.
_ACCOUNT_FIELDS = ("imap_host", "imap_port", "username")


def is_new_account(mailbox: Mailbox, data: MailboxInput) -> bool:
    """Whether saving ``data`` over ``mailbox`` would connect another account."""
    if mailbox.pk is None:
        return False
    connection = MailboxConnection.objects.filter(mailbox=mailbox).first()
    if connection is None or not connection.imap_host:
        return False
    return mailbox.account_type != data.account_type or any(
        getattr(connection, name) != getattr(data, name) for name in _ACCOUNT_FIELDS
    )


@transaction.atomic
def save_mailbox(
    data: MailboxInput, *, password: str | None, mailbox: Mailbox | None = None
) -> Mailbox:
    """Create a mailbox, or update ``mailbox``; ``password=None`` keeps the stored one.

    A new account (see :func:`is_new_account`) gets a new account version: every folder's
    cursor starts again for it, and the history cut-off is set anew. Saving the same account
    again never moves the cut-off.
    """
    creating = mailbox is None or mailbox.pk is None
    if mailbox is None:
        mailbox = Mailbox()
    new_account = is_new_account(mailbox, data)
    old = MailboxConnection.objects.filter(mailbox=mailbox).first() if not creating else None
    mailbox.label = data.label
    mailbox.email = data.email
    mailbox.account_type = data.account_type
    mailbox.processor_kind = data.processor_kind
    mailbox.processor_settings = data.processor_settings
    mailbox.language = data.language
    mailbox.aliases = data.aliases
    if data.sent_folder is not None:
        mailbox.sent_folder = data.sent_folder
    if creating or new_account:
        mailbox.history_mode = data.history_mode
        mailbox.history_days = data.history_days
        mailbox.history_convert = data.history_convert
        mailbox.account_started_at = timezone.now()
    if new_account:
        mailbox.account_version += 1
    credentials_changed = password is not None or (
        old is not None and old.username != data.username
    )
    if credentials_changed and not creating:
        mailbox.credential_version += 1
        mailbox.auth_failed_version = None
    mailbox.save()
    connection, _ = MailboxConnection.objects.get_or_create(mailbox=mailbox)
    for name in _CONNECTION_FIELDS:
        setattr(connection, name, getattr(data, name))
    if password is not None:
        connection.set_password(password)
    connection.save()
    smtp_changed = old is not None and any(
        getattr(old, name) != getattr(connection, name) for name in _SMTP_FIELDS
    )
    if smtp_changed or credentials_changed:
        send_refused_replies_again(mailbox)
    return mailbox


# What a refused send may have been refused for: a change makes waiting replies worth a try.
_SMTP_FIELDS = ("smtp_enabled", "smtp_host", "smtp_port", "smtp_encryption", "username")


def send_refused_replies_again(mailbox: Mailbox) -> int:
    """Replies waiting to be tried again after a refusal are tried now, with the settings just
    saved (not at the end of their backoff); how many."""
    waiting = OutboxMessage.objects.filter(mailbox=mailbox, state=OutboxState.PENDING).exclude(
        last_error=""
    )
    ids = list(waiting.values_list("pk", flat=True))
    OutboxMessage.objects.filter(pk__in=ids).update(next_attempt_at=timezone.now())
    for outbox_id in ids:
        enqueue("send_outbox", outbox_id)
    return len(ids)


def set_processor(mailbox: Mailbox, kind: str, settings: dict[str, Any]) -> None:
    """What the mailbox does with incoming mail from now on (mail already processed stays)."""
    mailbox.processor_kind = kind
    mailbox.processor_settings = settings
    mailbox.save(update_fields=["processor_kind", "processor_settings"])


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


# The settings a stored password was entered for: changing any of them asks for it again.
SERVER_FIELDS = (
    "imap_host",
    "imap_port",
    "imap_encryption",
    "smtp_host",
    "smtp_port",
    "smtp_encryption",
    "username",
)


def changed_server_settings(mailbox: Mailbox, data: MailboxInput) -> list[str]:
    """The settings in ``data`` that differ from those ``mailbox``'s stored password was
    entered for (``SERVER_FIELDS`` and ``account_type``). With any, the stored password must
    not be used: the mailbox form asks for it again, and a configuration import is refused.
    """
    connection = MailboxConnection.objects.filter(mailbox=mailbox).first()
    changed = [
        name
        for name in SERVER_FIELDS
        if connection is None or getattr(data, name) != getattr(connection, name)
    ]
    if data.account_type != mailbox.account_type:
        changed.append("account_type")
    return changed


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
