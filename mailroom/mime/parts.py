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


# The raster formats a browser shows as an image and never as a document, by their first bytes.
_RASTER_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def raster_image_type(data: bytes) -> str | None:
    """Return the type of ``data`` if it is a PNG, JPEG, GIF or WebP image, else None.

    The bytes decide, not the type the sender declared: an SVG (which can hold scripts), an
    HTML page or anything else named "image/png" is not a raster image.
    """
    for signature, content_type in _RASTER_SIGNATURES:
        if data.startswith(signature):
            return content_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None
