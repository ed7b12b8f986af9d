"""What rule conditions see of a parsed message (used by the respond step and the dry run)."""

from __future__ import annotations

from mailroom.mime.addresses import Address, parse_address_list
from mailroom.mime.html_text import html_to_text
from mailroom.mime.parse import ParsedMessage
from mailroom.rules.evaluate import MessageFields


def _bcc(parsed: ParsedMessage) -> list[Address]:
    # A message read back from its stored columns has no Bcc list: the stored headers do.
    if parsed.bcc:
        return parsed.bcc
    return [
        address
        for value in parsed.header_all("Bcc")
        for address in parse_address_list(value, "Bcc", [])
    ]


def message_fields(parsed: ParsedMessage) -> MessageFields:
    """From as addresses and display names; To, Cc and Bcc as addresses; the body as text
    (HTML-only mail turned into text, scripts and styles left out).

    Bcc is known only where the server delivers a Bcc header in the stored message (a copy
    of mail the mailbox sent, some servers' delivery to a blind recipient); otherwise it is
    empty, so "Bcc is empty" holds and positive Bcc conditions do not.
    """
    return MessageFields(
        subject=parsed.subject,
        from_=[a.email for a in parsed.from_] + [a.name for a in parsed.from_ if a.name],
        to=[a.email for a in parsed.to],
        cc=[a.email for a in parsed.cc],
        bcc=[a.email for a in _bcc(parsed)],
        body=parsed.text_body or html_to_text(parsed.html_body),
    )
