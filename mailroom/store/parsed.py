"""A stored message seen as a :class:`ParsedMessage` again, from its columns, without parsing
its raw bytes a second time: what processing reads."""

from __future__ import annotations

from mailroom.mime.addresses import Address
from mailroom.mime.parse import AttachmentInfo, ParsedMessage
from mailroom.models import Message


def _addresses(rows: object) -> list[Address]:
    if not isinstance(rows, list):
        return []
    return [
        Address(name=str(row.get("name", "")), email=str(row.get("email", "")))
        for row in rows
        if isinstance(row, dict)
    ]


def parsed_from_row(message: Message) -> ParsedMessage:
    """The parse stored with ``message`` (prefetch ``attachments`` when doing many)."""
    senders = _addresses(message.from_all)
    if not senders and message.from_email:
        senders = [Address(name=message.from_name, email=message.from_email)]
    return ParsedMessage(
        headers=[(str(name), str(value)) for name, value in message.headers],
        subject=message.subject,
        from_=senders,
        to=_addresses(message.to),
        cc=_addresses(message.cc),
        reply_to=_addresses(message.reply_to),
        return_path=message.return_path,
        date=message.date,
        message_id=message.message_id,
        in_reply_to=message.in_reply_to,
        references=[str(ref) for ref in message.references],
        text_body=message.text_body,
        html_body=message.html_body,
        attachments=[
            AttachmentInfo(
                filename=a.filename,
                content_type=a.content_type,
                size=a.size,
                content_id=a.content_id,
                part=a.part,
            )
            for a in message.attachments.all()
        ],
        defects=list(message.defects),
    )
