"""Store messages the way sync does, without a server: for tests of what comes after the store."""

from __future__ import annotations

from datetime import datetime, timedelta

from mailroom.leases import new_owner
from mailroom.models import Folder, Message
from mailroom.store.incoming import Fetched, store_chunk
from mailroom.sync.folder import FOLDER_LEASE


def store_one(
    folder: Folder,
    uid: int,
    raw: bytes,
    *,
    uidvalidity: int = 1,
    internal_date: datetime | None = None,
    history: bool = False,
) -> Message | None:
    """Store ``raw`` at (folder, uidvalidity, uid) as a sync would; None when it was a copy."""
    owner = new_owner()
    assert FOLDER_LEASE.claim(folder.pk, owner, timedelta(seconds=60))
    try:
        Folder.objects.filter(pk=folder.pk).update(uidvalidity=uidvalidity)
        folder.refresh_from_db()
        result = store_chunk(
            folder,
            owner=owner,
            uidvalidity=uidvalidity,
            items=[Fetched(uid, raw, internal_date, len(raw), history=history)],
            cursor=uid,
        )
    finally:
        FOLDER_LEASE.release(folder.pk, owner)
    return Message.objects.get(pk=result.stored[0]) if result.stored else None
