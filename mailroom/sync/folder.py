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
            wanted = [uid for uid in batch if sizes.get(uid, 0) <= conf.MAX_MESSAGE_BYTES]
            for uid in batch:
                if uid in sizes and sizes[uid] > conf.MAX_MESSAGE_BYTES:
                    store_too_large(folder, state.uidvalidity, uid, sizes[uid])
                    report.too_large += 1
            for fetched in session.fetch(wanted):
                stored = store_incoming(
                    folder, state.uidvalidity, fetched.uid, fetched.raw, fetched.internal_date
                )
                report.stored += stored is not None
            # UIDs expunged between SEARCH and FETCH are gone for good: move past them.
            advance_cursor(folder, batch[-1])
        Folder.objects.filter(pk=folder.pk).update(last_synced_at=timezone.now(), missing=False)
    finally:
        release_folder(folder)
    return report
