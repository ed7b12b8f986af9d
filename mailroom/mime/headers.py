"""Decoding header values: RFC 2047 encoded words, message ids and dates."""

from __future__ import annotations

import binascii
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from mailroom.mime.charsets import clean_header_text, decode_bytes, fix_8bit

# As lenient as email.header.decode_header about the charset, but the encoded text may not
# contain "?" (RFC 2047 forbids it in both encodings), so one word cannot swallow the next.
_ENCODED_WORD = re.compile(r"=\?([^?]*)\?([qQbB])\?([^?]*)\?=")
_MSG_ID = re.compile(r"<([^<>]*)>")
_ID_SEPARATORS = re.compile(r"[\s<>,;()\"]+")
_WHITESPACE = re.compile(r"\s+")
# Defect strings quote header values; keep them short enough to read in a list.
_QUOTE_LIMIT = 80


def excerpt(value: str) -> str:
    """Return value shortened to one clean line, for quoting inside a defect description."""
    value = " ".join(clean_header_text(value).split())
    if len(value) > _QUOTE_LIMIT:
        value = value[:_QUOTE_LIMIT] + "..."
    return value


def _decode_word_payload(encoding: str, payload: str) -> bytes | None:
    # surrogateescape gives back raw 8-bit bytes that senders put inside encoded words.
    data = payload.encode("utf-8", "surrogateescape")
    if encoding in "qQ":
        return binascii.a2b_qp(data, header=True)
    data = b"".join(data.split())
    # Postel: senders often drop the base64 padding.
    data += b"=" * (-len(data) % 4)
    try:
        return binascii.a2b_base64(data)
    except binascii.Error:
        return None


def decode_encoded_words(value: str) -> tuple[str, list[str]]:
    """Decode RFC 2047 encoded words in value; return the text and a list of problems.

    value may hold surrogate-escaped raw bytes as the email package stores them. Whitespace
    between two encoded words is dropped (RFC 2047 section 6.2); adjacent encoded words in the
    same charset are joined before decoding, because senders split multi-byte characters
    across them.
    """
    if "=?" not in value:
        return fix_8bit(value), []
    problems: list[str] = []
    out: list[str] = []
    pending: bytearray | None = None
    pending_charset = ""
    pos = 0

    def flush() -> None:
        nonlocal pending
        if pending is not None:
            text, ok = decode_bytes(bytes(pending), pending_charset)
            if not ok:
                problems.append(f"undecodable charset {excerpt(pending_charset)}")
            out.append(text)
            pending = None

    for match in _ENCODED_WORD.finditer(value):
        between = value[pos : match.start()]
        pos = match.end()
        charset, encoding, payload = match.groups()
        decoded = _decode_word_payload(encoding, payload)
        if decoded is None:
            problems.append("invalid base64 in encoded word")
            flush()
            out.append(fix_8bit(between + match.group(0)))
            continue
        if between and not (between.isspace() and pending is not None):
            flush()
            out.append(fix_8bit(between))
        if pending is not None and charset.lower() != pending_charset.lower():
            flush()
        if pending is None:
            pending = bytearray()
            pending_charset = charset
        pending += decoded
    flush()
    out.append(fix_8bit(value[pos:]))
    return "".join(out), problems


def decode_header_value(value: str, name: str, defects: list[str]) -> str:
    """Decode one raw header value to a single line of clean text.

    value is what the parser stored (possibly surrogate-escaped 8-bit bytes, possibly folded);
    problems are appended to defects, naming the header.
    """
    # Unfolding is removing the CRLF before the folding whitespace (RFC 5322 section 2.2.3).
    if "\r" in value or "\n" in value:
        value = value.replace("\r", "").replace("\n", "")
    text, problems = decode_encoded_words(value)
    defects.extend(f"{problem} in {name}" for problem in problems)
    # Decoding can produce CR, LF and NUL again (=0A in an encoded word): clean last.
    return clean_header_text(text).strip()


def normalise_msg_id(token: str) -> str:
    """Return "<id@host>" for a msg-id token with or without brackets; whitespace removed."""
    inner = _WHITESPACE.sub("", token.strip().removeprefix("<").removesuffix(">"))
    if not inner or "<" in inner or ">" in inner:
        return ""
    return f"<{inner}>"


def find_msg_ids(value: str) -> list[str]:
    """Return the msg-ids in a Message-ID, In-Reply-To or References value, in order.

    Bracketed ids are taken as written (folding whitespace inside removed); outside brackets,
    only tokens that look like id@host count, so phrases and comments are skipped.
    """
    ids: list[str] = []
    pos = 0
    for match in _MSG_ID.finditer(value):
        ids.extend(_bare_ids(value[pos : match.start()]))
        pos = match.end()
        normalised = normalise_msg_id(match.group(0))
        if normalised:
            ids.append(normalised)
    ids.extend(_bare_ids(value[pos:]))
    return ids


def _bare_ids(text: str) -> list[str]:
    # Split first, then look at each token: a regex search for "x@y" would be quadratic on a
    # long run of characters without a usable "@".
    if "@" not in text:
        return []
    return [f"<{token}>" for token in _ID_SEPARATORS.split(text) if "@" in token[1:-1]]


def parse_date(value: str) -> datetime | None:
    """Parse an RFC 5322 date to an aware datetime; None when it cannot be parsed.

    A date without a usable zone ("-0000") is taken as UTC, which is what RFC 5322 says it
    means. A date that exists only in its own zone ("31 Dec 9999 23:59 -1400" is in the year
    10000 in UTC) cannot be stored or compared, so it counts as unparseable.
    """
    try:
        parsed = parsedate_to_datetime(value)
    # parsedate_to_datetime raises ValueError, TypeError, IndexError or OverflowError depending
    # on how the value is broken.
    except Exception:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        parsed.astimezone(UTC)
    except OverflowError:
        return None
    return parsed
