"""Parsing raw message bytes into a ``ParsedMessage``, whatever the bytes are.

``parse_message`` never raises: every step that fails leaves a defect description and the
fields it could not fill at their empty defaults, and the other steps still run. Every str it
returns is valid UTF-8 without NUL, and every field taken from a header is a single line (a
decoded ``=0A`` in a Subject must not become a header break when the text is reused).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from mailroom.mime.addresses import Address, parse_address_list, parse_return_path
from mailroom.mime.charsets import clean_header_text, decode_text, fix_8bit
from mailroom.mime.headers import (
    decode_encoded_words,
    decode_header_value,
    excerpt,
    find_msg_ids,
    parse_date,
)
from mailroom.mime.structure import MimeNode, parse_structure

__all__ = ["Address", "AttachmentInfo", "ParsedMessage", "parse_message"]


@dataclass(frozen=True)
class AttachmentInfo:
    """A MIME part that is not the text or HTML body: a file, an inline image, a report."""

    filename: str
    """Decoded (RFC 2047 / RFC 2231), CR/LF/NUL removed, "" if none."""
    content_type: str
    """Lower-case maintype/subtype."""
    size: int
    """Decoded payload size in bytes."""
    content_id: str
    """Without angle brackets, "" if none."""
    part: str
    """IMAP part number ("2", "2.1"), so the part can be found again in the raw bytes."""


@dataclass
class ParsedMessage:
    """What mailroom needs from one message; see the module docstring for the guarantees."""

    headers: list[tuple[str, str]] = field(default_factory=list)
    """Every top-level header in order, values decoded and unfolded, one line each."""
    subject: str = ""
    from_: list[Address] = field(default_factory=list)
    sender: Address | None = None
    to: list[Address] = field(default_factory=list)
    cc: list[Address] = field(default_factory=list)
    bcc: list[Address] = field(default_factory=list)
    reply_to: list[Address] = field(default_factory=list)
    return_path: str | None = None
    """None without a Return-Path header; "" when it is <> (or unparseable); else the address."""
    date: datetime | None = None
    """Timezone-aware; None if missing or unparseable (the latter recorded as a defect)."""
    message_id: str = ""
    """Normalised "<id@host>", "" if none."""
    in_reply_to: str = ""
    """The first msg-id in In-Reply-To, normalised, "" if none."""
    references: list[str] = field(default_factory=list)
    """The msg-ids in References, in order, normalised; other tokens skipped."""
    text_body: str = ""
    """The first text/plain part that is not an attachment, decoded; line ends are "\\n"."""
    html_body: str = ""
    """The first text/html part that is not an attachment, decoded; NOT sanitised."""
    attachments: list[AttachmentInfo] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    """Human-readable descriptions of what was wrong with the message."""

    def header(self, name: str) -> str | None:
        """Return the first value of the header called name (any case), or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    def header_all(self, name: str) -> list[str]:
        """Return every value of the header called name (any case), in order."""
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]


def parse_message(raw: bytes) -> ParsedMessage:
    """Parse raw RFC 5322 bytes; never raises (see the module docstring)."""
    parsed = ParsedMessage()
    try:
        root, defects = parse_structure(bytes(raw))
    # parse_structure has its own fallbacks; this is the last line of defence.
    except Exception as exc:
        parsed.defects.append(f"message not parsed ({type(exc).__name__})")
        return parsed
    parsed.defects.extend(defects)
    steps: tuple[tuple[str, Callable[[ParsedMessage, MimeNode], None]], ...] = (
        ("headers", _read_headers),
        ("addresses", _read_addresses),
        ("date and ids", _read_date_and_ids),
        ("body parts", _read_parts),
    )
    for label, step in steps:
        try:
            step(parsed, root)
        except Exception as exc:
            parsed.defects.append(f"{label} not read ({type(exc).__name__})")
    return parsed


def _read_headers(parsed: ParsedMessage, root: MimeNode) -> None:
    for name, value in root.raw_headers:
        if "\x00" in name or "\x00" in value:
            # No header may hold a NUL (RFC 5322 section 2.2); the shown value drops it.
            parsed.defects.append(f"NUL characters removed from the header {excerpt(name)}")
        name = clean_header_text(name)
        parsed.headers.append((name, decode_header_value(value, name, parsed.defects)))
    parsed.subject = parsed.header("Subject") or ""


def _raw_header(root: MimeNode, name: str) -> str | None:
    """Return the first raw value of a header (8-bit bytes surrogate-escaped), or None."""
    values = root.raw_values(name)
    return values[0] if values else None


def _read_addresses(parsed: ParsedMessage, root: MimeNode) -> None:
    lists = {"From": "from_", "To": "to", "Cc": "cc", "Bcc": "bcc", "Reply-To": "reply_to"}
    for header, attribute in lists.items():
        # Several To or Cc fields are invalid but seen; every address in them counts.
        addresses = [
            address
            for value in root.raw_values(header)
            for address in parse_address_list(value, header, parsed.defects)
        ]
        setattr(parsed, attribute, addresses)
    sender = _raw_header(root, "Sender")
    if sender is not None:
        senders = parse_address_list(sender, "Sender", parsed.defects)
        parsed.sender = senders[0] if senders else None
    return_paths = root.raw_values("Return-Path")
    if return_paths:
        # The first one is the one the final delivery agent added at the top.
        parsed.return_path = parse_return_path(return_paths[0], parsed.defects)
        if len({value.strip() for value in return_paths}) > 1:
            parsed.defects.append("several different Return-Path headers")


def _msg_ids(root: MimeNode, name: str) -> list[str]:
    value = _raw_header(root, name)
    return [] if value is None else find_msg_ids(clean_header_text(fix_8bit(value)))


def _read_date_and_ids(parsed: ParsedMessage, root: MimeNode) -> None:
    date = _raw_header(root, "Date")
    if date is not None:
        date = clean_header_text(fix_8bit(date))
        parsed.date = parse_date(date)
        if parsed.date is None:
            parsed.defects.append(f"unparseable Date: {excerpt(date)!r}")
    message_ids = _msg_ids(root, "Message-ID")
    parsed.message_id = message_ids[0] if message_ids else ""
    # In-Reply-To may name several parents (RFC 5322 section 3.6.4); the first is the one.
    parents = _msg_ids(root, "In-Reply-To")
    parsed.in_reply_to = parents[0] if parents else ""
    parsed.references = _msg_ids(root, "References")


def _is_attachment(node: MimeNode) -> bool:
    disposition = str(node.headers.get("content-disposition", "")).split(";", 1)[0]
    return disposition.strip().lower() == "attachment" or node.headers.get_filename() is not None


def _read_parts(parsed: ParsedMessage, root: MimeNode) -> None:
    bodies_found: set[str] = set()
    for node in root.leaves():
        try:
            content_type = node.content_type
            is_body = (
                content_type in ("text/plain", "text/html")
                and content_type not in bodies_found
                and not _is_attachment(node)
            )
            if not is_body:
                parsed.attachments.append(_attachment_info(node, parsed.defects))
                continue
            bodies_found.add(content_type)
            if content_type == "text/plain":
                parsed.text_body = _decode_text(node, parsed.defects)
            else:
                parsed.html_body = _decode_text(node, parsed.defects)
        # One broken part must not hide the others.
        except Exception as exc:
            parsed.defects.append(f"{_where(node)} not read ({type(exc).__name__})")


def _where(node: MimeNode) -> str:
    return f"part {node.path}"


def _decode_text(node: MimeNode, defects: list[str]) -> str:
    payload, problem = node.payload()
    if problem:
        defects.append(f"{problem} in {_where(node)}")
    charset = node.headers.get_content_charset()
    text, ok, had_nul = decode_text(payload, charset)
    if not ok:
        defects.append(f"undecodable charset {excerpt(str(charset))} in {_where(node)}")
    if had_nul:
        defects.append(f"NUL characters removed from the text of {_where(node)}")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _attachment_info(node: MimeNode, defects: list[str]) -> AttachmentInfo:
    payload, problem = node.payload()
    if problem:
        defects.append(f"{problem} in {_where(node)}")
    filename = node.headers.get_filename() or ""
    if "=?" in filename:
        # Not allowed by RFC 2047 inside parameters, but what many mailers send.
        filename, problems = decode_encoded_words(filename)
        defects.extend(f"{problem} in the file name of {_where(node)}" for problem in problems)
    content_id = clean_header_text(str(node.headers.get("content-id", ""))).strip()
    return AttachmentInfo(
        filename=clean_header_text(filename).strip(),
        content_type=clean_header_text(node.content_type),
        size=len(payload),
        content_id=content_id.removeprefix("<").removesuffix(">").strip(),
        part=node.path,
    )
