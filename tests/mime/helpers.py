"""Helpers for the mime tests: the shared real-world corpus and a small message builder."""

from __future__ import annotations

import os
from pathlib import Path

# shared/corpus sits beside the project (see shared/README.md); MAILROOM_CORPUS overrides it.
CORPUS = Path(
    os.environ.get("MAILROOM_CORPUS", Path(__file__).resolve().parents[3] / "shared" / "corpus")
)


def corpus_files(folder: str) -> list[Path]:
    """Return every message file of one corpus folder ("mixed" or "automated"), sorted."""
    directory = CORPUS / folder
    if not directory.is_dir():
        return []
    return sorted(path for path in directory.iterdir() if path.is_file())


def build(*headers: str, body: str | bytes = "Hello.\r\n") -> bytes:
    """Return a raw message: the header lines, a blank line, the body (CRLF line endings)."""
    head = "".join(f"{line}\r\n" for line in headers).encode("utf-8")
    data = body if isinstance(body, bytes) else body.encode("utf-8")
    return head + b"\r\n" + data
