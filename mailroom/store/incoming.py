"""The only writer of message rows: store a fetched chunk of one folder in one transaction.

Everything a chunk brings is written together: the message rows, their attachments, their
processing records, further locations of messages already held, and the folder's cursor. The
cursor update is fenced by the folder's sync lease, so a syncer whose lease was taken over
cannot write; then the whole chunk rolls back and nothing is half-saved.

Duplicates are resolved inside the transaction:
- by location (folder, UIDVALIDITY, UID): a message stored already is skipped;
- by content (SHA-256 of the raw bytes, within the mailbox): the same bytes at a new location
  are the same email. In the same folder under a new UIDVALIDITY (the server renumbered the
  folder) the stored row simply moves to its new location; in another folder it gains a
  :class:`~mailroom.models.MessageCopy`. Either way it is neither listed nor processed twice.
  Message-ID is never trusted for this: a sender chooses it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

from django.db import DatabaseError, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from mailroom import metrics
from mailroom.mime.addresses import Address
from mailroom.mime.parse import ParsedMessage, parse_message
from mailroom.models import (
    Attachment,
    Folder,
    Message,
    MessageCopy,
    ProcessingRecord,
    ProcessingState,
)
from mailroom.store.raw import digest_of, save_raw_many
from mailroom.store.rows import insert_rows, serialize_storing

logger = logging.getLogger(__name__)

# Placeholder kinds: a message left on the server because of its size, or a UID the server
# would not return even when asked for it alone.
TOO_LARGE = "too_large"
MISSING = "missing"


@dataclass
class Fetched:
    """One location to store: the bytes the server returned, or a placeholder for them."""

    uid: int
    raw: bytes | None
    internal_date: datetime | None = None
    size: int = 0
    placeholder: str = ""
    history: bool = False


@dataclass
class ChunkResult:
    """What storing a chunk did; ``to_process`` are the new rows whose pipeline must run."""

    stored: list[int] = field(default_factory=list)
    to_process: list[int] = field(default_factory=list)
    copies: int = 0
    # UIDs kept raw because the parser failed on them, and left on the server for their size.
    unparsable: list[int] = field(default_factory=list)
    too_large: list[int] = field(default_factory=list)


class LeaseLost(Exception):
    """The folder's sync lease is no longer ours: another syncer took over; nothing was written."""


def _addresses(addresses: list[Address]) -> list[dict[str, str]]:
    return [{"name": a.name, "email": a.email} for a in addresses]


# PostgreSQL refuses NUL in text and in JSON columns; SQLite stores it. So that a message
# stores the same row on either database, NUL in a derived field becomes U+FFFD (the raw bytes
# keep the original exactly) and a defect says so. (Lone surrogates, which neither database's
# driver can encode, the parser already turns into '?': ``charsets.ensure_utf8``.)
_NUL = "\x00"


def _has_nul(value: object) -> bool:
    """Whether ``value`` (text, or lists and dicts of it, as JSON columns hold) has a NUL."""
    if isinstance(value, str):
        return _NUL in value
    if isinstance(value, list | tuple):
        return any(_has_nul(item) for item in value)
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    return False


def _without_nul(value: object) -> object:
    """``value`` with every NUL in its text replaced by U+FFFD."""
    if isinstance(value, str):
        return value.replace(_NUL, "\ufffd")
    if isinstance(value, list | tuple):
        return [_without_nul(item) for item in value]
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    return value


def row_values(parsed: ParsedMessage) -> tuple[dict[str, object], list[dict[str, object]]]:
    """The columns of a message row and of its attachment rows that come from its parse,
    storable as they are on SQLite and PostgreSQL alike.

    The parser promises text without NUL; this is where that promise is made good for the
    database, whatever a parser step let through: the same message stores the same row on
    either database (threats.md F11)."""
    fields = message_fields(parsed)
    attachments = attachment_fields(parsed)
    repaired: set[str] = set()
    for name, value in fields.items():
        if _has_nul(value):
            fields[name] = _without_nul(value)
            repaired.add(name)
    for attachment in attachments:
        for name, value in attachment.items():
            if _has_nul(value):
                attachment[name] = _without_nul(value)
                repaired.add(f"attachment {name}")
    if repaired:
        note = f"NUL replaced in {', '.join(sorted(repaired))}"
        fields["defects"] = [*cast(list[str], fields["defects"]), note]
        fields["is_malformed"] = True
    return fields, attachments


def message_fields(parsed: ParsedMessage) -> dict[str, object]:
    """The columns of a message row that come from its parse (see :func:`row_values`)."""
    sender = parsed.from_[0] if parsed.from_ else None
    return {
        "message_id": parsed.message_id[:998],
        "in_reply_to": parsed.in_reply_to[:998],
        "references": parsed.references,
        "subject": parsed.subject,
        "from_name": sender.name[:300] if sender else "",
        "from_email": sender.email[:320] if sender else "",
        "from_all": _addresses(parsed.from_),
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


def attachment_fields(parsed: ParsedMessage) -> list[dict[str, object]]:
    """The columns of the attachment rows that come from the parse (see :func:`row_values`)."""
    return [
        {
            "filename": a.filename[:500],
            "content_type": a.content_type[:200],
            "size": a.size,
            "content_id": a.content_id[:500],
            "part": a.part[:100],
        }
        for a in parsed.attachments
    ]


def _placeholder_text(item: Fetched) -> tuple[bytes, dict[str, object]]:
    if item.placeholder == TOO_LARGE:
        note = (
            f"This message is {item.size} bytes, over the download limit "
            "(MAILROOM_MAX_MESSAGE_BYTES); it was left on the server.\r\n"
        )
        subject = "(message too large, not downloaded)"
        defect = f"message of {item.size} bytes exceeds the download limit"
    else:
        note = (
            f"The server listed UID {item.uid} but did not return it, even when asked for it "
            "alone; it may have been deleted meanwhile, or the server cannot read it.\r\n"
        )
        subject = "(message the server did not return)"
        defect = "the server did not return this message"
    return note.encode(), {"subject": subject, "defects": [defect], "is_malformed": True}


@dataclass
class _Prepared:
    item: Fetched
    data: bytes
    digest: str
    fields: dict[str, object]
    attachments: list[dict[str, object]]
    unparsable: bool = False


def _prepare(item: Fetched) -> _Prepared:
    """Parse the raw bytes, outside the transaction (it takes CPU, not the write lock)."""
    if item.raw is None:
        note, fields = _placeholder_text(item)
        return _Prepared(
            item, note, digest_of(note), {**fields, "placeholder": item.placeholder}, []
        )
    raw = item.raw
    digest = digest_of(raw)
    unparsable = False
    try:
        parsed = parse_message(raw)
    # parse_message promises never to raise; a poison message must still be kept, raw.
    except Exception as exc:
        logger.exception("message at UID %s could not be parsed", item.uid)
        parsed = ParsedMessage(defects=[f"message not parsed ({type(exc).__name__})"])
        unparsable = True
    fields, attachments = row_values(parsed)
    return _Prepared(item, raw, digest, fields, attachments, unparsable)


def _relocate_or_copy(first: Message, folder: Folder, uidvalidity: int, uid: int) -> None:
    if first.folder_id == folder.pk and first.uidvalidity != uidvalidity:
        # The folder was renumbered: the stored row moves to its new location.
        Message.objects.filter(pk=first.pk).update(uidvalidity=uidvalidity, uid=uid)
        first.uidvalidity, first.uid = uidvalidity, uid
    else:
        MessageCopy.objects.create(message=first, folder=folder, uidvalidity=uidvalidity, uid=uid)


def store_chunk(
    folder: Folder,
    *,
    owner: str,
    uidvalidity: int,
    items: list[Fetched],
    cursor: int,
    backlog: int = 0,
    lease_ttl: timedelta = timedelta(seconds=60),
) -> ChunkResult:
    """Store ``items`` (fetched from ``folder`` under ``uidvalidity``) and move the cursor to
    ``cursor``, in one transaction fenced by the lease ``owner`` holds on the folder.

    Raises :class:`LeaseLost` (and writes nothing) when the lease is no longer ours.
    """
    prepared = [_prepare(item) for item in items]
    result = ChunkResult()
    with transaction.atomic():
        serialize_storing(folder.mailbox_id)
        moved = Folder.objects.filter(
            pk=folder.pk,
            lease_owner=owner,
            lease_until__gte=timezone.now(),
            uidvalidity=uidvalidity,
            account_version=folder.account_version,
        ).update(
            last_uid=Greatest(F("last_uid"), cursor),
            imported=F("imported") + len(items),
            backlog=backlog,
            # Storing a chunk renews the lease: a sync that makes progress keeps its folder.
            lease_until=timezone.now() + lease_ttl,
        )
        if moved != 1:
            raise LeaseLost(f"folder {folder.pk}: the sync lease was lost; chunk not stored")
        if prepared:
            _insert_each_kept(folder, uidvalidity, prepared, result)
    folder.last_uid = max(folder.last_uid, cursor)
    metrics.SYNCED.inc(len(result.stored))
    return result


# What the database (or Django's conversion on the way to it) refuses in a row's values: a date
# out of range, a value too long for its column, a byte sequence it cannot store.
_ROW_REFUSED = (DatabaseError, OverflowError, ValueError)


def _insert_each_kept(
    folder: Folder, uidvalidity: int, prepared: list[_Prepared], result: ChunkResult
) -> None:
    """Insert the chunk at once; if the database refuses it, each message on its own, and a
    message whose parsed fields it refuses even alone is kept raw only, flagged, with the
    reason: one message's odd value never costs the others of its chunk (nor itself)."""
    try:
        _attempt(folder, uidvalidity, prepared, result)
        return
    except _ROW_REFUSED as exc:
        logger.warning("folder %s: a chunk was refused (%s); storing one by one", folder.pk, exc)
    for one in prepared:
        try:
            _attempt(folder, uidvalidity, [one], result)
        except _ROW_REFUSED as exc:
            logger.warning("folder %s: UID %s kept raw only: %s", folder.pk, one.item.uid, exc)
            _attempt(folder, uidvalidity, [_raw_only(one, exc)], result)


def _attempt(
    folder: Folder, uidvalidity: int, prepared: list[_Prepared], result: ChunkResult
) -> None:
    """:func:`_insert` in a savepoint; ``result`` counts it only once it is stored."""
    done = ChunkResult()
    with transaction.atomic():
        _insert(folder, uidvalidity, prepared, done)
    result.stored += done.stored
    result.to_process += done.to_process
    result.copies += done.copies
    result.unparsable += done.unparsable
    result.too_large += done.too_large


def _raw_only(p: _Prepared, exc: Exception) -> _Prepared:
    """``p`` with none of its parsed fields but a flag and the reason: its bytes are kept."""
    defect = f"its parsed fields could not be stored ({type(exc).__name__}); kept raw only"
    fields: dict[str, object] = {"defects": [defect], "is_malformed": True}
    return _Prepared(p.item, p.data, p.digest, fields, [], p.unparsable)


def _insert(
    folder: Folder, uidvalidity: int, prepared: list[_Prepared], result: ChunkResult
) -> None:
    uids = [p.item.uid for p in prepared]
    here = {"folder": folder, "uidvalidity": uidvalidity, "uid__in": uids}
    known = set(
        Message.objects.filter(**here)
        .values_list("uid", flat=True)
        .order_by()
        .union(MessageCopy.objects.filter(**here).values_list("uid", flat=True).order_by())
    )
    digests = [p.digest for p in prepared if p.item.raw is not None]
    held: dict[str, Message] = {}
    for row in Message.objects.filter(mailbox_id=folder.mailbox_id, sha256__in=digests).only(
        "id", "sha256", "folder_id", "uidvalidity", "uid"
    ):
        held.setdefault(row.sha256, row)
    new_rows: list[dict[str, object]] = []
    pending: list[_Prepared] = []
    first_in_chunk: set[str] = set()
    later_copies: list[tuple[str, int]] = []
    for p in prepared:
        if p.item.uid in known:
            continue
        if p.item.raw is not None:
            first = held.get(p.digest)
            if first is not None:
                _relocate_or_copy(first, folder, uidvalidity, p.item.uid)
                result.copies += 1
                continue
            if p.digest in first_in_chunk:
                later_copies.append((p.digest, p.item.uid))
                continue
            first_in_chunk.add(p.digest)
        new_rows.append(
            {
                "mailbox_id": folder.mailbox_id,
                "folder_id": folder.pk,
                "uidvalidity": uidvalidity,
                "uid": p.item.uid,
                "raw_size": p.item.size or len(p.item.raw or b""),
                "sha256": p.digest,
                "internal_date": p.item.internal_date,
                "is_history": p.item.history,
                "account_version": folder.account_version,
                **p.fields,
            }
        )
        pending.append(p)
    save_raw_many({p.digest: p.data for p in pending})
    insert_rows(Message, new_rows)
    # Found again by their location, which is unique: executemany returns no ids.
    ids: dict[int, int] = dict(
        Message.objects.filter(
            folder=folder, uidvalidity=uidvalidity, uid__in=[p.item.uid for p in pending]
        ).values_list("uid", "id")
    )
    new_ids = [ids[p.item.uid] for p in pending]
    # The same bytes twice within one chunk: the later ones are copies of the first.
    by_digest = {p.digest: pk for p, pk in zip(pending, new_ids, strict=True) if p.item.raw}
    insert_rows(
        MessageCopy,
        [
            {
                "message_id": by_digest[digest],
                "folder_id": folder.pk,
                "uidvalidity": uidvalidity,
                "uid": uid,
            }
            for digest, uid in later_copies
        ],
    )
    result.copies += len(later_copies)
    insert_rows(
        Attachment,
        [
            {"message_id": pk, **attachment}
            for p, pk in zip(pending, new_ids, strict=True)
            for attachment in p.attachments
        ],
    )
    now = timezone.now()
    records: list[dict[str, object]] = []
    for p, pk in zip(pending, new_ids, strict=True):
        if p.item.placeholder:
            outcome = (
                "not downloaded: too large"
                if p.item.placeholder == TOO_LARGE
                else "not returned by the server"
            )
            records.append(
                {
                    "message_id": pk,
                    "state": ProcessingState.DONE,
                    "outcome": outcome,
                    "processed_at": now,
                }
            )
        else:
            records.append({"message_id": pk})
            result.to_process.append(pk)
    insert_rows(ProcessingRecord, records)
    result.stored += new_ids
    result.unparsable += [p.item.uid for p in pending if p.unparsable]
    result.too_large += [p.item.uid for p in pending if p.item.placeholder == TOO_LARGE]
