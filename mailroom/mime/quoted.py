"""The message a delivery report or an auto-reply quotes: the ids in its returned headers.

A DSN (RFC 3464) returns the original in a ``message/rfc822`` part or only its headers in a
``text/rfc822-headers`` part (RFC 6522); ARF reports and many auto-replies do the same. The ids
found there say which of our messages the report is about.
"""

from __future__ import annotations

from mailroom.mime.charsets import clean_header_text, fix_8bit
from mailroom.mime.headers import find_msg_ids
from mailroom.mime.structure import MimeNode, parse_structure

QUOTING_TYPES = frozenset(
    {
        "message/rfc822",
        "message/global",
        "text/rfc822-headers",
        "message/rfc822-headers",
        "message/global-headers",
    }
)

# A returned message is read for its headers only; a part larger than this is cut first.
_MAX_QUOTED = 256 * 1024


def _ids(node: MimeNode, name: str) -> list[str]:
    return [
        msg_id
        for value in node.raw_values(name)
        for msg_id in find_msg_ids(clean_header_text(fix_8bit(value)))
    ]


def quoted_message_ids(raw: bytes) -> list[str]:
    """Message-ID, then In-Reply-To and References, of every message quoted in ``raw``, in
    order and without repeats; [] when nothing is quoted. Never raises."""
    try:
        root, _defects = parse_structure(raw)
        found: list[str] = []
        for leaf in root.leaves():
            if leaf.content_type not in QUOTING_TYPES:
                continue
            payload, _problem = leaf.payload()
            head = payload[:_MAX_QUOTED]
            if b"\r\n\r\n" not in head and b"\n\n" not in head:
                head += b"\r\n\r\n"  # headers only (text/rfc822-headers)
            quoted, _ = parse_structure(head)
            for name in ("Message-ID", "In-Reply-To", "References"):
                found.extend(_ids(quoted, name))
        return list(dict.fromkeys(found))
    except Exception:
        return []
