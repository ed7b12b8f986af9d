"""Check a mailbox's IMAP connection and list the folders it offers."""

from __future__ import annotations

from mailroom.transport.imap import FolderInfo, ImapSession, ImapSettings


def check_imap(settings: ImapSettings) -> list[FolderInfo]:
    """Log in and list the selectable folders; raises a TransportError naming the field."""
    with ImapSession(settings) as session:
        return [f for f in session.list_folders() if f.selectable]
