"""Finding one MIME part of a stored message again, by its IMAP part number."""

from __future__ import annotations

from mailroom.mime.structure import MimeNode, parse_structure


def find_part(raw: bytes, path: str) -> MimeNode | None:
    """Return the leaf part of ``raw`` numbered ``path`` ("2", "1.2"), or None if it has none.

    Only leaves are looked at: an attachment is never a multipart container, and the root of
    a single-part message is its own leaf, numbered "1".
    """
    root, _defects = parse_structure(raw)
    for leaf in root.leaves():
        if leaf.path == path:
            return leaf
    return None
