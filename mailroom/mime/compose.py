"""Building outgoing autoresponses as RFC 5322 bytes (``docs/autoresponder.md`` A34-A37).

Every value is cleaned of CR, LF and NUL (and the other characters ``str.splitlines`` breaks
on); addresses and message ids must be single plain tokens. The headers are then written by this
module and stored with ``set_raw``, never through the header registry: on this Python (3.11.7)
even a plain ``str`` assigned with ``msg["Subject"] = ...`` is parsed, its encoded words decoded,
and the result written back unencoded, so the text ``=?UTF-8?Q?Hi=0ABcc:_x@evil.test?=``
becomes a Bcc header (CVE-2024-6923, reproduced in test_compose.py). Free text is emitted as is
when it is short plain ASCII, else as RFC 2047 encoded words, which encode a literal "=?" too.
``EmailMessage`` with ``policy.SMTP`` still builds the MIME body and writes CRLF line endings.
The output is 7-bit: bodies are quoted-printable.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from email import policy
from email.header import Header
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from mailroom.mime.addresses import is_sendable
from mailroom.mime.charsets import clean_header_text

_DOMAIN = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")
_LINE_LIMIT = 78
# RFC 2047 section 2 caps an encoded word at 75 characters; policy.SMTP and Header's default
# both write 76, so encode with a limit of 75 (which also keeps lines within 76).
_ENCODED_LINE_LIMIT = 75
# refold_source only concerns values stored with set_raw, which this module has folded already;
# refolding them would go through the header registry again.
_OUTPUT_POLICY = policy.SMTP.clone(refold_source="none")
# What a msg-id may hold between its brackets for us to repeat it: printable ASCII, no space.
_MSG_ID = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]+>")
# A language tag for Content-Language (RFC 3282, BCP 47), e.g. "de" or "pt-BR"; at most 35.
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8}){0,5}")


_LOCAL_PART = re.compile(r"[A-Za-z0-9]+(?:[.-][A-Za-z0-9]+)*")


def _message(headers: list[tuple[str, str | None]], text: str, html: str | None) -> EmailMessage:
    """A message with ``headers`` (None: left out) and a text part, or text and HTML as
    multipart/alternative; NULs are dropped from both."""
    msg = EmailMessage(policy=policy.SMTP)
    for name, value in headers:
        if value is not None:
            msg.set_raw(name, value)
    msg.set_content(text.replace("\x00", ""), charset="utf-8", cte="quoted-printable")
    if html is not None:
        msg.add_alternative(
            html.replace("\x00", ""), subtype="html", charset="utf-8", cte="quoted-printable"
        )
    return msg


def make_message_id(domain: str, *, local_part: str | None = None) -> str:
    """Return a fresh "<random@domain>" Message-ID; the random part comes from ``secrets``.

    ``local_part`` replaces the random part (a caller that signs its own ids, see
    ``mailroom.conversations.ids``); it must be dot-atom letters and digits.
    """
    domain = clean_header_text(domain).strip().lower()
    if not _DOMAIN.fullmatch(domain):
        raise ValueError(f"not a domain name: {domain!r}")
    if local_part is None:
        local_part = secrets.token_hex(16)
    elif not _LOCAL_PART.fullmatch(local_part):
        raise ValueError(f"not a Message-ID local part: {local_part!r}")
    return f"<{local_part}@{domain}>"


def _address(value: str, role: str) -> str:
    address = clean_header_text(value).strip()
    if not is_sendable(address):
        raise ValueError(f"{role} is not a single plain address: {address!r}")
    return address


def _is_plain(text: str, line_start: int) -> bool:
    return text.isascii() and "=?" not in text and line_start + len(text) <= _LINE_LIMIT


def _encoded_words(name: str, text: str) -> str:
    return Header(text, "utf-8", header_name=name).encode(
        linesep="\r\n", maxlinelen=_ENCODED_LINE_LIMIT
    )


def _text_header(name: str, text: str) -> str:
    """Return an unstructured header value (Subject): as is if short plain ASCII, else encoded."""
    if _is_plain(text, len(name) + 2):
        return text
    return _encoded_words(name, text)


def _from_header(name: str, address: str) -> str:
    """Return the From value with the display name quoted or RFC 2047-encoded here.

    Besides the decoding above, policy.SMTP's folder (Python 3.11.7) drops the quotes around a
    display name it has to encode or fold: "Süpport Team, Inc." comes out as two addresses,
    "A (B)" loses B to a comment. Encoded words in Q form encode every special, so the name
    stays one phrase.
    """
    if not name:
        return address
    plain = formataddr((name, address))
    if _is_plain(plain, len("From: ")):
        return plain
    encoded = _encoded_words("From", name)
    last_line = encoded.rsplit("\r\n", 1)[-1]
    separator = " " if len(last_line) + len(address) + 3 <= _LINE_LIMIT else "\r\n "
    return f"{encoded}{separator}<{address}>"


def _folded_ids(name: str, ids: list[str]) -> str:
    """Join msg-ids with spaces, folding before an id that would pass the line limit."""
    lines = [ids[0]]
    width = len(name) + 2 + len(ids[0])
    for msg_id in ids[1:]:
        if width + 1 + len(msg_id) > _LINE_LIMIT:
            lines.append(msg_id)
            width = 1 + len(msg_id)
        else:
            lines[-1] += f" {msg_id}"
            width += 1 + len(msg_id)
    return "\r\n ".join(lines)


def _thread_ids(in_reply_to: str, references: list[str]) -> tuple[str, list[str]]:
    """Return In-Reply-To and References for the response (RFC 5322 section 3.6.4).

    They come from inbound mail, so ids that are not plain msg-ids are left out rather than
    copied into our headers.
    """
    parent = clean_header_text(in_reply_to).strip()
    parent = parent if _MSG_ID.fullmatch(parent) else ""
    chain = [clean_header_text(ref).strip() for ref in references]
    chain = [ref for ref in chain if _MSG_ID.fullmatch(ref)]
    if parent and (not chain or chain[-1] != parent):
        chain.append(parent)
    return parent, chain


def compose_reply(
    *,
    from_name: str,
    from_email: str,
    to_email: str,
    subject: str,
    text: str,
    html: str | None,
    message_id: str,
    in_reply_to: str,
    references: list[str],
    loop_token: str,
    date: datetime,
    language: str | None = None,
) -> bytes:
    """Return the autoresponse as RFC 5322 bytes with CRLF line endings.

    To is the single to_email; there is never a Cc or Bcc. References is the given references
    with in_reply_to appended; In-Reply-To and References are left out when empty (row A35).
    Content-Language is ``language`` when given, which must be a plain language tag (the
    caller normalises what the sender declared; this module only refuses anything else).
    Raises ValueError when an address or message_id is not a single plain token, when
    language is not a tag, or when loop_token is empty (the loop header is what makes our own
    mail recognisable).
    """
    from_address = _address(from_email, "From")
    message_id = clean_header_text(message_id).strip()
    if not _MSG_ID.fullmatch(message_id):
        raise ValueError(f"not a Message-ID: {message_id!r}")
    loop_token = clean_header_text(loop_token).strip()
    if not loop_token:
        raise ValueError("loop_token is empty")
    parent, chain = _thread_ids(in_reply_to, references)
    if language is not None and not (len(language) <= 35 and _LANGUAGE_TAG.fullmatch(language)):
        raise ValueError(f"not a language tag: {language!r}")

    headers: list[tuple[str, str | None]] = [
        ("From", _from_header(clean_header_text(from_name).strip(), from_address)),
        ("To", _address(to_email, "To")),
        ("Subject", _text_header("Subject", clean_header_text(subject).strip())),
        ("Date", format_datetime(date)),
        ("Message-ID", message_id),
        ("In-Reply-To", parent or None),
        ("References", _folded_ids("References", chain) if chain else None),
        # RFC 3834 section 3.1.7; Microsoft's header keeps Exchange out-of-office replies away;
        # Precedence for pre-3834 responders (section 3.1.8); our loop marker for autoreply.py.
        ("Auto-Submitted", "auto-replied"),
        ("X-Auto-Response-Suppress", "All"),
        ("Precedence", "bulk"),
        ("X-Mailroom-Loop", _text_header("X-Mailroom-Loop", loop_token)),
    ]
    msg = _message(headers, text, html)
    # Set after the body: set_content clears Content-* headers and add_alternative moves them
    # into the first part, where a reader looks for the message's language less.
    if language is not None:
        msg.set_raw("Content-Language", language)
    return msg.as_bytes(policy=_OUTPUT_POLICY)


# A reply's References keeps the thread's first id and its latest ones: RFC 5322 section 3.6.4
# lets a writer trim the list, and mail clients need the root and the nearest parents.
MAX_REFERENCES = 20


def _trimmed(chain: list[str]) -> list[str]:
    """``chain`` without repeats, at most MAX_REFERENCES ids: the first and the latest."""
    unique = list(dict.fromkeys(chain))
    if len(unique) <= MAX_REFERENCES:
        return unique
    return [unique[0], *unique[-(MAX_REFERENCES - 1) :]]


def _address_list(name: str, addresses: list[str]) -> str:
    """Plain addresses joined with commas, folded before one that would pass the line limit."""
    checked = [_address(address, name) for address in addresses]
    lines = [checked[0]]
    width = len(name) + 2 + len(checked[0])
    for address in checked[1:]:
        if width + 2 + len(address) > _LINE_LIMIT:
            lines[-1] += ","
            lines.append(address)
            width = 1 + len(address)
        else:
            lines[-1] += f", {address}"
            width += 2 + len(address)
    return "\r\n ".join(lines)


def compose_message(
    *,
    from_name: str,
    from_email: str,
    to: list[str],
    cc: list[str],
    subject: str,
    text: str,
    html: str | None,
    message_id: str,
    in_reply_to: str,
    references: list[str],
    date: datetime,
) -> bytes:
    """Return a reply a person wrote as RFC 5322 bytes with CRLF line endings.

    Unlike :func:`compose_reply` it is not marked as automatic (no Auto-Submitted, Precedence
    or loop header: the recipient's own autoresponder may answer it, as it would any mail), and
    it may have several To and Cc addresses; there is never a Bcc. With ``html`` the body is
    multipart/alternative, ``text`` first. References is the given references with
    in_reply_to appended, trimmed to the first and the latest ids (:data:`MAX_REFERENCES`).
    Raises ValueError when an address or message_id is not a single plain token, or when
    there is no To address.
    """
    if not to:
        raise ValueError("a reply needs at least one To address")
    from_address = _address(from_email, "From")
    message_id = clean_header_text(message_id).strip()
    if not _MSG_ID.fullmatch(message_id):
        raise ValueError(f"not a Message-ID: {message_id!r}")
    parent, chain = _thread_ids(in_reply_to, references)
    chain = _trimmed(chain)
    headers: list[tuple[str, str | None]] = [
        ("From", _from_header(clean_header_text(from_name).strip(), from_address)),
        ("To", _address_list("To", to)),
        ("Cc", _address_list("Cc", cc) if cc else None),
        ("Subject", _text_header("Subject", clean_header_text(subject).strip())),
        ("Date", format_datetime(date)),
        ("Message-ID", message_id),
        ("In-Reply-To", parent or None),
        ("References", _folded_ids("References", chain) if chain else None),
    ]
    msg = _message(headers, text, html)
    return msg.as_bytes(policy=_OUTPUT_POLICY)
