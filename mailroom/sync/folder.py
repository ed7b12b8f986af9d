"""Sync one folder: fetch every message above the folder's cursor, in batches, and store it.

A folder is claimed with a lease (one UPDATE that works on SQLite and PostgreSQL alike), so two
processes never sync the same folder at the same time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from mailroom import conf
from mailroom.models import Folder
from mailroom.store.incoming import advance_cursor, store_incoming
from mailroom.store.placeholder import store_too_large
from mailroom.transport.imap import ImapSession

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)

# The most message bytes one UID FETCH brings into memory.
FETCH_BYTES = 32 * 1024 * 1024


@dataclass
class FolderReport:
    """What one pass over a folder did."""

    folder: str
    stored: int = 0
    too_large: int = 0
    skipped: bool = False


def claim_folder(folder: Folder) -> bool:
    """Take the folder's sync lease; False when another process holds it."""
    now = timezone.now()
    return (
        Folder.objects.filter(pk=folder.pk)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=now + LEASE)
        == 1
    )


def release_folder(folder: Folder) -> None:
    """Give the lease back."""
    Folder.objects.filter(pk=folder.pk).update(lease_until=None)


def _rebaseline(folder: Folder, uidvalidity: int) -> None:
    if folder.uidvalidity is not None:
        # The server renumbered the folder. Stored mail is kept as it is; the cursor restarts.
        logger.warning(
            "folder %r: UIDVALIDITY changed from %s to %s; starting over",
            folder.name,
            folder.uidvalidity,
            uidvalidity,
        )
    folder.uidvalidity = uidvalidity
    folder.last_uid = 0
    Folder.objects.filter(pk=folder.pk).update(uidvalidity=uidvalidity, last_uid=0)


def _by_volume(uids: list[int], sizes: dict[int, int]) -> list[list[int]]:
    """Split ``uids`` so that no download holds more than FETCH_BYTES in memory at once."""
    chunks: list[list[int]] = [[]]
    volume = 0
    for uid in uids:
        size = sizes.get(uid, 0)
        if chunks[-1] and volume + size > FETCH_BYTES:
            chunks.append([])
            volume = 0
        chunks[-1].append(uid)
        volume += size
    return chunks


def _store_chunk(
    session: ImapSession,
    folder: Folder,
    uidvalidity: int,
    chunk: list[int],
    sizes: dict[int, int],
    report: FolderReport,
) -> None:
    wanted = [uid for uid in chunk if sizes.get(uid, 0) <= conf.MAX_MESSAGE_BYTES]
    fetched = {message.uid: message for message in session.fetch(wanted)}
    # Store in UID order, so the cursor never passes a message that is not stored yet.
    for uid in chunk:
        if uid in fetched:
            message = fetched[uid]
            stored = store_incoming(folder, uidvalidity, uid, message.raw, message.internal_date)
            report.stored += stored is not None
        elif sizes.get(uid, 0) > conf.MAX_MESSAGE_BYTES:
            store_too_large(folder, uidvalidity, uid, sizes[uid])
            report.too_large += 1


def sync_folder(session: ImapSession, folder: Folder) -> FolderReport:
    """Store every message of ``folder`` above its cursor; return what was done."""
    report = FolderReport(folder=folder.name)
    if not claim_folder(folder):
        report.skipped = True
        return report
    try:
        state = session.examine(folder.name)
        if folder.uidvalidity != state.uidvalidity:
            _rebaseline(folder, state.uidvalidity)
        uids = session.uids_after(folder.last_uid)
        for start in range(0, len(uids), conf.FETCH_BATCH):
            batch = uids[start : start + conf.FETCH_BATCH]
            sizes = session.sizes(batch)
            for chunk in _by_volume(batch, sizes):
                _store_chunk(session, folder, state.uidvalidity, chunk, sizes, report)
            # UIDs expunged between SEARCH and FETCH are gone for good: move past them.
            advance_cursor(folder, batch[-1])
        Folder.objects.filter(pk=folder.pk).update(last_synced_at=timezone.now(), missing=False)
    finally:
        release_folder(folder)
    return report
