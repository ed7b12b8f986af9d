"""Raw message bytes, addressed by their SHA-256.

They are kept in the database (:class:`~mailroom.models.RawMessage`), written in the same
transaction as the message rows of their chunk, so storing them is as atomic as the rows
themselves: a crash leaves no truncated copy that a later writer would take for the message,
and nothing to clean up. Identical bytes are stored once.
"""

from __future__ import annotations

import hashlib

from mailroom.models import RawMessage
from mailroom.store.rows import insert_rows


def digest_of(raw: bytes) -> str:
    """The SHA-256 of ``raw``, as stored."""
    return hashlib.sha256(raw).hexdigest()


def save_raw_many(blobs: dict[str, bytes]) -> None:
    """Store each (sha256 → bytes) unless the same bytes are stored already; call it inside the
    transaction that stores the rows naming them."""
    if blobs:
        insert_rows(
            RawMessage,
            [{"sha256": digest, "data": data} for digest, data in blobs.items()],
            ignore_conflicts=True,
        )
