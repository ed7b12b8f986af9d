"""Check a mailbox's connections: IMAP lists its folders, SMTP accepts the login."""

from __future__ import annotations

from mailroom.transport.imap import FolderInfo, ImapSession, ImapSettings
from mailroom.transport.smtp import SmtpSettings, check_login


def check_imap(settings: ImapSettings) -> list[FolderInfo]:
    """Log in and list the selectable folders; raises a TransportError naming the field."""
    with ImapSession(settings) as session:
        return [f for f in session.list_folders() if f.selectable]


def check_smtp(settings: SmtpSettings) -> bool:
    """Log in to the SMTP server without sending; raises a TransportError naming the field.

    Returns False when the server accepted the connection without asking for a login."""
    return check_login(settings)
