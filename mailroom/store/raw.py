"""Raw message bytes in Django file storage, addressed by their SHA-256, written atomically.

On the local file system (the embedded shape, or a shared directory in the scale-out shape) the
bytes go to a temporary file in the target directory that is then renamed over the final name:
a crash leaves either no file or a whole one, never a truncated file that later writers would
take for the message. No fsync per message: a power cut may lose the newest files together with
the database transaction that names them (SQLite WAL, ``synchronous=NORMAL``), and a file found
with the wrong size is written again. Other storage backends are used through their ``save``,
which those services make atomic themselves.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage


def raw_name(digest: str) -> str:
    """The storage name of the bytes whose SHA-256 is ``digest``."""
    return f"raw/{digest[:2]}/{digest[2:4]}/{digest}.eml"


def digest_of(raw: bytes) -> str:
    """The SHA-256 of ``raw``, as stored."""
    return hashlib.sha256(raw).hexdigest()


def _write_file(path: Path, raw: bytes) -> None:
    try:
        if path.stat().st_size == len(raw):
            return  # the same bytes (same digest, same size) are already there
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".eml")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(raw)
        os.chmod(temporary, 0o640)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def save_raw(raw: bytes, digest: str | None = None) -> tuple[str, str]:
    """Store ``raw`` unless identical bytes are already stored; return (name, sha256).

    Naming by content makes the write idempotent: a crash after this and before the database
    commit leaves a file the retry reuses, never a second copy.
    """
    digest = digest or digest_of(raw)
    name = raw_name(digest)
    storage = default_storage
    # The lazy default storage passes isinstance checks for the class it wraps.
    if isinstance(storage, FileSystemStorage):
        _write_file(Path(storage.path(name)), raw)
    elif not storage.exists(name):
        saved = storage.save(name, ContentFile(raw))
        if saved != name:  # another writer stored the same bytes at the same moment
            storage.delete(saved)
    return name, digest
