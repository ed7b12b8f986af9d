"""Store a fetched message, its parsed fields, its processing record and the folder's cursor in
one transaction, exactly once per (folder, UIDVALIDITY, UID)."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from mailroom.mime.addresses import Address
from mailroom.mime.parse import AttachmentInfo, ParsedMessage, parse_message
from mailroom.models import Attachment, Folder, Message, ProcessingRecord, ProcessingState
from mailroom.store.raw import save_raw
from mailroom.store.recent import remember

logger = logging.getLogger(__name__)


def _addresses(addresses: list[Address]) -> list[dict[str, str]]:
    return [{"name": a.name, "email": a.email} for a in addresses]


def _message_fields(parsed: ParsedMessage) -> dict[str, object]:
    sender = parsed.from_[0] if parsed.from_ else None
    return {
        "message_id": parsed.message_id[:998],
        "in_reply_to": parsed.in_reply_to[:998],
        "references": parsed.references,
        "subject": parsed.subject,
        "from_name": sender.name[:300] if sender else "",
        "from_email": sender.email[:320] if sender else "",
        "to": _addresses(parsed.to),
        "cc": _addresses(parsed.cc),
        "reply_to": _addresses(parsed.reply_to),
        "return_path": None if parsed.return_path is None else parsed.return_path[:320],
        "date": parsed.date,
        "headers": [[name, value] for name, value in parsed.headers],
        "text_body": parsed.text_body,
        "html_body": parsed.html_body,
        "defects": parsed.defects,
        "is_malformed": bool(parsed.defects),
    }


def insert_message(
    folder: Folder,
    uidvalidity: int,
    uid: int,
    *,
    raw_name: str,
    digest: str,
    size: int,
    fields: dict[str, object],
    attachments: list[AttachmentInfo],
    record: dict[str, object],
) -> Message | None:
    """Insert the message row, its attachments and its processing record, and advance the
    folder's cursor, all in one transaction; None when the location is already stored."""
    try:
        with transaction.atomic():
            message = Message.objects.create(
                mailbox_id=folder.mailbox_id,
                folder=folder,
                uidvalidity=uidvalidity,
                uid=uid,
                raw=raw_name,
                raw_size=size,
                sha256=digest,
                **fields,
            )
            if attachments:
                Attachment.objects.bulk_create(
                    Attachment(
                        message=message,
                        filename=a.filename[:500],
                        content_type=a.content_type[:200],
                        size=a.size,
                        content_id=a.content_id[:500],
                        part=a.part[:100],
                    )
                    for a in attachments
                )
            ProcessingRecord.objects.create(message=message, **record)
            advance_cursor(folder, uid)
    except IntegrityError:
        # Another worker stored this location between our check and our insert.
        logger.info("message %s/%s/%s already stored", folder.pk, uidvalidity, uid)
        return None
    return message


def store_incoming(
    folder: Folder,
    uidvalidity: int,
    uid: int,
    raw: bytes,
    internal_date: datetime | None,
) -> Message | None:
    """Store one fetched message and advance the folder's cursor to ``uid``.

    Returns the new message, or ``None`` when this location was already stored (a second pass
    stores nothing twice). The raw bytes are kept whatever the parser thinks of them.
    """
    if Message.objects.filter(folder=folder, uidvalidity=uidvalidity, uid=uid).exists():
        advance_cursor(folder, uid)
        return None
    parsed = parse_message(raw)
    name, digest = save_raw(raw)
    message = insert_message(
        folder,
        uidvalidity,
        uid,
        raw_name=name,
        digest=digest,
        size=len(raw),
        fields={"internal_date": internal_date, **_message_fields(parsed)},
        attachments=parsed.attachments,
        record=_record_for_copy(folder, digest),
    )
    if message is not None:
        remember(message.pk, parsed)
    return message


def _record_for_copy(folder: Folder, digest: str) -> dict[str, object]:
    """The processing record of a message whose exact bytes this mailbox already holds.

    The same bytes at a new location are the same email: a folder renumbered by the server
    (new UIDVALIDITY) or a copy in a second synced folder. It is stored at its new location
    but not processed again, so it creates no second Case and no second reply. Message-ID
    alone is never trusted for this: a sender chooses it.
    """
    first = (
        Message.objects.filter(mailbox_id=folder.mailbox_id, sha256=digest)
        .order_by("id")
        .values_list("id", flat=True)
        .first()
    )
    if first is None:
        return {}
    return {
        "state": ProcessingState.DONE,
        "outcome": f"same message as #{first}; not processed again",
        "processed_at": timezone.now(),
    }


def advance_cursor(folder: Folder, uid: int) -> None:
    """Move the folder's last seen UID forward (never back)."""
    Folder.objects.filter(pk=folder.pk, last_uid__lt=uid).update(last_uid=uid)
    folder.last_uid = max(folder.last_uid, uid)
