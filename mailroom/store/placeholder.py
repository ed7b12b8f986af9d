"""A message too large to download is stored as a small placeholder, flagged, never dropped."""

from __future__ import annotations

from mailroom.models import Folder, Message, ProcessingState
from mailroom.store.incoming import insert_message
from mailroom.store.raw import save_raw


def store_too_large(folder: Folder, uidvalidity: int, uid: int, size: int) -> Message | None:
    """Record that UID ``uid`` exists but was not downloaded because of its ``size``."""
    note = (
        f"This message is {size} bytes, over the download limit "
        f"(MAILROOM_MAX_MESSAGE_BYTES); it was left on the server.\r\n"
    ).encode()
    name, digest = save_raw(note)
    return insert_message(
        folder,
        uidvalidity,
        uid,
        raw_name=name,
        digest=digest,
        size=size,
        fields={
            "subject": "(message too large, not downloaded)",
            "defects": [f"message of {size} bytes exceeds the download limit"],
            "is_malformed": True,
        },
        attachments=[],
        record={"state": ProcessingState.DONE, "outcome": "not downloaded: too large"},
    )
