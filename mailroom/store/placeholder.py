"""A message too large to download is stored as a small placeholder, flagged, never dropped."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from mailroom.models import Folder, Message, ProcessingRecord, ProcessingState
from mailroom.store.incoming import advance_cursor
from mailroom.store.raw import save_raw


def store_too_large(folder: Folder, uidvalidity: int, uid: int, size: int) -> Message | None:
    """Record that UID ``uid`` exists but was not downloaded because of its ``size``."""
    note = (
        f"This message is {size} bytes, over the download limit "
        f"(MAILROOM_MAX_MESSAGE_BYTES); it was left on the server.\r\n"
    ).encode()
    name, digest = save_raw(note)
    try:
        with transaction.atomic():
            message = Message.objects.create(
                mailbox_id=folder.mailbox_id,
                folder=folder,
                uidvalidity=uidvalidity,
                uid=uid,
                raw=name,
                raw_size=size,
                sha256=digest,
                subject="(message too large, not downloaded)",
                defects=[f"message of {size} bytes exceeds the download limit"],
                is_malformed=True,
            )
            ProcessingRecord.objects.create(
                message=message, state=ProcessingState.DONE, outcome="not downloaded: too large"
            )
            advance_cursor(folder, uid)
    except IntegrityError:
        return None
    return message
