"""Parsing address headers without being fooled into a wrong address.

``email.utils.getaddresses`` in this Python (3.11.7) reads ``alice@example.org)<bob@example.org>``
as two addresses, one of them bob (CVE-2023-27043). Here, simple well-formed lists (the vast
majority) are read with one strict regular expression; anything else goes to the RFC 5322
parser behind ``email.headerregistry``, and a mailbox it calls invalid keeps its display name
but gets an empty email, with a defect recorded, instead of a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import _header_value_parser as rfc5322

from mailroom.mime.charsets import clean_header_text, fix_8bit
from mailroom.mime.headers import decode_encoded_words, excerpt


@dataclass(frozen=True)
class Address:
    """One mailbox from an address header."""

    name: str
    """The decoded display name, "" if none."""
    email: str
    """The addr-spec as written, with the domain lower-cased; "" if unparseable."""


_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LOCAL = rf"{_ATEXT}+(?:\.{_ATEXT}+)*"
_DOMAIN = r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*"
# A display-name word: a quoted string without escapes, or a run of anything but specials. Words
# are separated by whitespace, so the pattern has a single way to match and runs in linear time.
_WORD = r'"[^"\\]*"|[^\s"<>,;:@()\\\[\]]+'
_PHRASE = rf"(?:{_WORD})(?:[ \t]+(?:{_WORD}))*"
_MAILBOX = rf"(?:({_PHRASE})[ \t]*)?<({_LOCAL})@({_DOMAIN})>|({_LOCAL})@({_DOMAIN})"
_SIMPLE_MAILBOX = re.compile(_MAILBOX)
_SIMPLE_LIST = re.compile(rf"[ \t]*(?:{_MAILBOX})(?:[ \t]*,[ \t]*(?:{_MAILBOX}))*[ \t]*")

_SPECIALS = r'\s"(),:;<>@\[\\\]'
_RP_LOCAL = rf'"[^"\\]*"|[^{_SPECIALS}]+'
_RP_DOMAIN = rf"[^{_SPECIALS}]+|\[[^\[\]\\\s]*\]"
_RETURN_PATH = re.compile(rf"({_RP_LOCAL})(?:@({_RP_DOMAIN}))?")
_BRACKETED = re.compile(r"<\s*(?:@[^<>:]*:)?([^<>]*?)\s*>")
# Limits on what reaches the slow RFC 5322 parser; see parse_address_list.
_ELEMENT_LIMIT = 1000
_IRREGULAR_ELEMENTS = 50


def _unfold(value: str) -> str:
    return value.replace("\r", "").replace("\n", "").replace("\x00", "")


def _display_name(phrase: str) -> str:
    if '"' in phrase:
        phrase = phrase.replace('"', "")
    phrase, _problems = decode_encoded_words(phrase)
    return clean_header_text(" ".join(phrase.split()))


def _simple_list(value: str) -> list[Address] | None:
    # _SIMPLE_LIST validates the whole value; the mailboxes are then read one by one.
    if not _SIMPLE_LIST.fullmatch(value):
        return None
    addresses = []
    for match in _SIMPLE_MAILBOX.finditer(value):
        phrase, local, domain, bare_local, bare_domain = match.groups()
        if local is None:
            local, domain = bare_local, bare_domain
        addresses.append(Address(_display_name(phrase or ""), f"{local}@{domain.lower()}"))
    return addresses


def _split_elements(value: str) -> list[str]:
    """Split an address list at its top-level commas, dropping group names and semicolons.

    Quotes, comments and angle brackets are respected, so the pieces are what an RFC 5322
    parser would see as separate addresses; a piece that is not well-formed stays one piece.
    """
    elements: list[str] = []
    current: list[str] = []
    quoted = escaped = angle = False
    comment = 0
    for char in value:
        if escaped:
            escaped = False
        elif char == "\\" and (quoted or comment):
            escaped = True
        elif quoted:
            quoted = char != '"'
        elif comment:
            comment += {"(": 1, ")": -1}.get(char, 0)
        elif char == '"':
            quoted = True
        elif char == "(":
            comment = 1
        elif char in "<>":
            angle = char == "<"
        elif not angle and char in ",;":
            elements.append("".join(current))
            current = []
            continue
        elif not angle and char == ":":
            # "team: a@x, b@x;" - a group's name is not an address; its members are.
            current = []
            continue
        current.append(char)
    elements.append("".join(current))
    return [element for element in elements if element.strip()]


def _parse_irregular(element: str, header: str, defects: list[str]) -> list[Address]:
    """Parse one address the strict pattern refused with the email package's RFC 5322 parser."""
    try:
        address_list, rest = rfc5322.get_address_list(element)
    # The parser raises IndexError and HeaderParseError on some malformed input.
    except Exception:
        defects.append(f"invalid address in {header}: {excerpt(element)!r}")
        return []
    addresses = []
    invalid = bool(str(rest).strip())
    for mailbox in address_list.all_mailboxes:
        name = clean_header_text(mailbox.display_name or "").strip()
        # The parser marks a mailbox invalid by its token_type (not by its class).
        invalid_token = mailbox.token_type == "invalid-mailbox"  # noqa: S105
        if invalid_token or not mailbox.local_part or not mailbox.domain:
            invalid = True
            addresses.append(Address(name, ""))
            continue
        local, _at, domain = str(mailbox.addr_spec).rpartition("@")
        addresses.append(Address(name, clean_header_text(f"{local}@{domain.lower()}")))
    if invalid:
        defects.append(f"invalid address in {header}: {excerpt(element)!r}")
    return addresses


def parse_address_list(value: str, header: str, defects: list[str]) -> list[Address]:
    """Parse an address header value into Address objects; problems are added to defects.

    value may hold surrogate-escaped raw bytes as the email package stores them.
    """
    value = _unfold(value)
    simple = _simple_list(value)
    if simple is not None:
        return simple
    # The RFC 5322 parser takes quadratic time (150 ms for 8 KB, seconds for 100 KB), so it only
    # sees single, reasonably short elements, and only so many of them per header.
    addresses: list[Address] = []
    budget, skipped = _IRREGULAR_ELEMENTS, 0
    for element in _split_elements(fix_8bit(value)):
        simple = _simple_list(element)
        if simple is not None:
            addresses.extend(simple)
        elif len(element) > _ELEMENT_LIMIT or budget == 0:
            skipped += 1
        else:
            budget -= 1
            addresses.extend(_parse_irregular(element, header, defects))
    if skipped:
        defects.append(f"{skipped} overlong or excess irregular addresses not parsed in {header}")
    return addresses


def parse_return_path(value: str, defects: list[str]) -> str:
    """Return the address in a Return-Path value; "" for <> and for anything unparseable."""
    value = fix_8bit(_unfold(value)).strip()
    # The whole value must be one path: with anything around the brackets, which address is
    # meant is a guess (the CVE-2023-27043 shape), and a guess must not get an autoresponse.
    bracketed = _BRACKETED.fullmatch(value)
    if bracketed is not None:
        candidate = bracketed.group(1)
        if not candidate:
            return ""
    else:
        candidate = value
    match = _RETURN_PATH.fullmatch(candidate)
    if match is None:
        defects.append(f"unparseable Return-Path: {excerpt(value)!r}")
        return ""
    local, domain = match.groups()
    return clean_header_text(local if domain is None else f"{local}@{domain.lower()}")


# An address mailroom can send to: ASCII local part and domain (no SMTPUTF8), no trailing dot.
_SENDABLE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")


def is_sendable(address: str) -> bool:
    """Whether ``address`` is one plain ASCII local@domain that a reply can be addressed to."""
    return bool(_SENDABLE.fullmatch(address))
