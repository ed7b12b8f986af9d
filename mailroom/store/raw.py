"""Raw message bytes in Django file storage, addressed by their SHA-256."""

from __future__ import annotations

import hashlib

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage


def raw_name(digest: str) -> str:
    """The storage name of the bytes whose SHA-256 is ``digest``."""
    return f"raw/{digest[:2]}/{digest[2:4]}/{digest}.eml"


def save_raw(raw: bytes) -> tuple[str, str]:
    """Store ``raw`` unless identical bytes are already stored; return (name, sha256).

    Naming by content makes the write idempotent: a crash after this and before the database
    commit leaves a file the retry reuses, never a second copy.
    """
    digest = hashlib.sha256(raw).hexdigest()
    name = raw_name(digest)
    if not default_storage.exists(name):
        saved = default_storage.save(name, ContentFile(raw))
        if saved != name:  # another writer stored the same bytes at the same moment
            default_storage.delete(saved)
    return name, digest
