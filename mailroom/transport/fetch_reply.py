"""Read UID FETCH replies straight from imaplib's data, for the two fetches sync makes most.

IMAPClient parses every reply with a general tokenizer, which cost more per message than
everything else in an import. The replies to ``UID FETCH n,m (UID RFC822.SIZE INTERNALDATE)``
and ``UID FETCH n,m (UID BODY.PEEK[])`` have a fixed shape, so they are read here with a few
anchored patterns. Anything that does not have that shape raises :class:`UnexpectedReply`, and
the caller asks again through IMAPClient's general parser: this is a fast path, never a guess.
"""

from __future__ import annotations

import re
from datetime import datetime

from imapclient.datetime_util import parse_to_datetime

_SEQ = rb"\d+ \("
_UID = re.compile(rb"\bUID (\d+)")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")
_DATE = re.compile(rb'\bINTERNALDATE "([^"\r\n]+)"')
_BODY = re.compile(rb"\bBODY\[\] \{(\d+)\}$")
_START = re.compile(_SEQ)


class UnexpectedReply(Exception):
    """The reply is not of the shape this module reads; use the general parser."""


def _internal_date(value: bytes) -> datetime:
    try:
        parsed: datetime = parse_to_datetime(value, normalise=False)
    except ValueError as exc:
        raise UnexpectedReply(f"INTERNALDATE {value!r}") from exc
    return parsed


def read_metadata(data: list[object]) -> dict[int, tuple[int, datetime | None]]:
    """UID → (RFC822.SIZE, INTERNALDATE) from the reply lines of a metadata fetch."""
    result: dict[int, tuple[int, datetime | None]] = {}
    for line in data:
        if line is None:
            continue
        if not isinstance(line, bytes) or not _START.match(line):
            raise UnexpectedReply(repr(line)[:80])
        uid, size, date = _UID.search(line), _SIZE.search(line), _DATE.search(line)
        if uid is None:
            raise UnexpectedReply(repr(line)[:80])
        if size is None:
            continue  # an unsolicited FETCH (flags of another message changed)
        result[int(uid[1])] = (int(size[1]), _internal_date(date[1]) if date else None)
    return result


def read_bodies(data: list[object]) -> dict[int, bytes]:
    """UID → the message bytes, from the reply of a ``(UID BODY.PEEK[])`` fetch.

    imaplib hands each literal as a (text before it, literal) pair, followed by the text after
    it (``)``, or more items when the server adds some).
    """
    result: dict[int, bytes] = {}
    for part in data:
        if isinstance(part, tuple):
            if len(part) != 2 or not isinstance(part[0], bytes):
                raise UnexpectedReply(repr(part)[:80])
            head, literal = part
            if not _START.match(head):
                raise UnexpectedReply(repr(head)[:80])
            uid, body = _UID.search(head), _BODY.search(head)
            if uid is None or body is None or not isinstance(literal, bytes):
                raise UnexpectedReply(repr(head)[:80])
            if len(literal) != int(body[1]):
                raise UnexpectedReply("literal shorter than announced")
            result[int(uid[1])] = literal
        elif isinstance(part, bytes):
            stripped = part.strip()
            # The closing parenthesis of a reply, or an unsolicited FETCH without a body.
            if stripped != b")" and not (_START.match(part) and b"BODY[]" not in part):
                raise UnexpectedReply(repr(part)[:80])
        elif part is not None:
            raise UnexpectedReply(repr(part)[:80])
    return result
