"""Copy a sent reply into the server's Sent folder (IMAP APPEND, flagged ``\\Seen``).

The folder is the mailbox's ``sent_folder`` when set, else the folder LIST marks ``\\Sent``
(RFC 6154 SPECIAL-USE), else one named "Sent", "Sent Items" or "Sent Messages"; every name
used comes from LIST (threats.md S16). The copy is claimed with the outbox row's lease, so two
workers never save it twice, and a copy an earlier attempt saved without recording it is found
by its Message-ID before anything is appended. A copy that fails is recorded with its reason;
it never sends the mail again, and can be retried by itself (:func:`retry_sent_copy`).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from mailroom import conf
from mailroom.credentials import CredentialError
from mailroom.leases import LeaseField, LeaseKeeper, new_owner
from mailroom.mailboxes.servers import imap_settings
from mailroom.models import Mailbox, OutboxMessage, OutboxState, SentCopy
from mailroom.tasks.dispatch import enqueue
from mailroom.transport.errors import TransportError
from mailroom.transport.imap import FolderInfo, ImapSession, special_use_folder

logger = logging.getLogger(__name__)

_LEASE = LeaseField(OutboxMessage)
# Names mail clients and servers give the Sent folder when it carries no SPECIAL-USE flag.
SENT_NAMES = ("Sent", "Sent Items", "Sent Messages")


class NoSentFolder(Exception):
    """No folder to copy replies into; the message says why."""


def choose_sent_folder(folders: list[FolderInfo], configured: str) -> str:
    """The folder replies are copied into, among those LIST returned (decide; see module)."""
    selectable = [folder for folder in folders if folder.selectable]
    if configured:
        for folder in selectable:
            if folder.name == configured:
                return folder.name
        raise NoSentFolder(f"the Sent folder “{configured}” set for this mailbox does not exist")
    special = special_use_folder(selectable, "\\Sent")
    if special is not None:
        return special
    by_name = {folder.name.lower(): folder.name for folder in selectable}
    for name in SENT_NAMES:
        for candidate in (name, f"INBOX.{name}", f"INBOX/{name}"):
            if candidate.lower() in by_name:
                return by_name[candidate.lower()]
    raise NoSentFolder(
        "the server marks no folder as Sent and has none named "
        + ", ".join(f"“{name}”" for name in SENT_NAMES)
        + "; choose one in the mailbox's settings"
    )


def _ttl() -> timedelta:
    return timedelta(seconds=conf.LEASE_SECONDS)


class _Copy:
    """Where the copy went (or was going) and what became of it."""

    def __init__(self) -> None:
        self.folder = ""

    def save(self, row: OutboxMessage, mailbox: Mailbox) -> None:
        """APPEND the row's message unless the folder holds it already."""
        connection = mailbox.connection
        if not connection.imap_enabled or not connection.imap_host:
            raise NoSentFolder("IMAP is disabled for this mailbox")
        with ImapSession(imap_settings(connection)) as session:
            self.folder = choose_sent_folder(session.list_folders(), mailbox.sent_folder)
            if session.holds_message_id(self.folder, row.message_id):
                return
            session.append(self.folder, bytes(row.raw), flags=("\\Seen",), msg_time=row.sent_at)


def copy_to_sent(outbox_id: int) -> SentCopy | None:
    """Copy a sent reply whose copy is due to the Sent folder; return the copy's state, or
    None when it was not due (not sent, not a reply written here, copied, or being copied)."""
    owner = new_owner()
    if not _LEASE.claim(
        outbox_id, owner, _ttl(), state=OutboxState.SENT, sent_copy=SentCopy.PENDING
    ):
        return None
    row = OutboxMessage.objects.select_related("mailbox__connection").get(pk=outbox_id)
    state, error, copy = SentCopy.SAVED, "", _Copy()
    with LeaseKeeper(_LEASE, outbox_id, owner, _ttl()):
        try:
            copy.save(row, row.mailbox)
        except (NoSentFolder, TransportError, CredentialError) as exc:
            state, error = SentCopy.FAILED, str(exc)
        except Exception:
            # Recorded rather than left to the sweep: a copy that fails this way would fail
            # again every time, and the person sees it and can try again.
            logger.exception("outbox %s: copy to Sent failed", outbox_id)
            state, error = SentCopy.FAILED, "an unexpected error; see the server log"
    _LEASE.release(
        outbox_id, owner, sent_copy=state, sent_copy_folder=copy.folder, sent_copy_error=error
    )
    logger.info("outbox %s: copy to Sent %s %s", outbox_id, state, error)
    return state


def sent_copy_due(outbox_id: int) -> bool:
    """Whether the row is a sent reply whose copy to Sent is still to be made."""
    return OutboxMessage.objects.filter(
        pk=outbox_id, state=OutboxState.SENT, sent_copy=SentCopy.PENDING
    ).exists()


def retry_sent_copy(row: OutboxMessage) -> bool:
    """Try a failed copy to Sent again (the mail is not sent again); False when the copy had
    not failed."""
    again = OutboxMessage.objects.filter(
        pk=row.pk, state=OutboxState.SENT, sent_copy=SentCopy.FAILED
    ).update(sent_copy=SentCopy.PENDING, sent_copy_error="")
    if again:
        enqueue("send_outbox", row.pk)
    return bool(again)
