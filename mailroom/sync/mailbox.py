"""Sync every selected folder of a mailbox over one IMAP session and record its health."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.utils import timezone

from mailroom.credentials import CredentialError
from mailroom.mailboxes.servers import imap_settings
from mailroom.models import Folder, Mailbox, MailboxStatus
from mailroom.sync.folder import FolderReport, sync_folder
from mailroom.transport.errors import AuthFailed, FolderMissing, TransportError
from mailroom.transport.imap import ImapSession

logger = logging.getLogger(__name__)


@dataclass
class MailboxReport:
    """What one pass over a mailbox did, and the error that stopped it, if any."""

    mailbox_id: int
    folders: list[FolderReport] = field(default_factory=list)
    error: str = ""

    @property
    def stored(self) -> int:
        """Messages stored in this pass."""
        return sum(f.stored for f in self.folders)


def set_status(mailbox: Mailbox, status: MailboxStatus, detail: str = "") -> None:
    updates: dict[str, object] = {"status": status, "status_detail": detail}
    if status == MailboxStatus.OK:
        updates["last_synced_at"] = timezone.now()
    Mailbox.objects.filter(pk=mailbox.pk).update(**updates)


def sync_mailbox(mailbox_id: int) -> MailboxReport:
    """Fetch new mail from every selected folder of the mailbox."""
    report = MailboxReport(mailbox_id=mailbox_id)
    mailbox = Mailbox.objects.select_related("connection").get(pk=mailbox_id)
    connection = mailbox.connection
    folders = list(mailbox.folders.filter(selected=True))
    if not connection.imap_enabled or not folders:
        return report
    try:
        settings = imap_settings(connection)
    except CredentialError as exc:
        report.error = str(exc)
        set_status(mailbox, MailboxStatus.AUTH_ERROR, str(exc))
        return report
    try:
        with ImapSession(settings) as session:
            for folder in folders:
                try:
                    report.folders.append(sync_folder(session, folder))
                except FolderMissing as exc:
                    logger.warning("mailbox %s: %s", mailbox.label, exc)
                    Folder.objects.filter(pk=folder.pk).update(missing=True)
    except AuthFailed as exc:
        report.error = str(exc)
        set_status(mailbox, MailboxStatus.AUTH_ERROR, str(exc))
        return report
    except TransportError as exc:
        report.error = str(exc)
        set_status(mailbox, MailboxStatus.DEGRADED, str(exc))
        return report
    set_status(mailbox, MailboxStatus.OK)
    return report
