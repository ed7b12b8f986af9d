"""Threading a whole batch at once: the lookups every message would make, made once.

Most mail names no message mailroom knows: it starts a conversation of its own. Asked one
message at a time, finding that out cost a lookup, an INSERT and an UPDATE each, and made the
first import of a mailbox twice as slow. Before a batch runs, :func:`prepare_batch`

1. writes the batch's In-Reply-To and References to the index, in one statement;
2. looks up, in three statements, which of the ids the batch names belong to a stored message
   or to a reply of ours, and which of the batch's own ids some message names;
3. starts a conversation, in bulk, for each message that none of the rules of
   ``threading.py`` could join anywhere: no id of ours, no parent or reply stored or in the
   batch, no subject tag, nothing quoted.

The other messages are threaded one by one as before. The answers of step 2 are only ever used
to skip a lookup that would have found nothing: a message named by another of the batch, or
stored by a sync meanwhile, is looked up live when its turn comes.

The conversations started here are committed with the batch, not with the message's own
savepoint: if a later step fails for that message, it keeps its conversation, and the retry
finds it there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.utils import timezone

from mailroom.conversations.actions import contact_address, index_references_of
from mailroom.conversations.ids import looks_like_ours
from mailroom.conversations.threading import (
    CASE_TAG,
    ThreadIds,
    messages_named,
    referenced,
    replies_named,
)
from mailroom.mime.quoted import QUOTING_TYPES
from mailroom.models import Contact, Conversation, Message
from mailroom.store.rows import insert_returning_ids

# Ids per lookup statement (SQLite allows 32,766 parameters; PostgreSQL many more).
_CHUNK = 900


@dataclass
class BatchThreading:
    """What :func:`prepare_batch` found out; the thread step reads it from the batch cache."""

    # Ids named by the batch that a stored message (of any mailbox) or a reply of ours has.
    known: set[str] = field(default_factory=set)
    # The batch's own Message-IDs that some stored message names in In-Reply-To or References.
    named: set[str] = field(default_factory=set)
    # Message pk → the conversation started for it here.
    started: dict[int, Conversation] = field(default_factory=dict)
    # Message pks whose references are in the index already.
    indexed: set[int] = field(default_factory=set)


def ids_of(message: Message) -> ThreadIds:
    """A stored message's ids, as threading reads them (nothing quoted: see ``quotes``)."""
    return ThreadIds(
        message_id=message.message_id,
        in_reply_to=message.in_reply_to,
        references=[str(r) for r in message.references or []],
        subject=message.subject,
    )


def quotes(message: Message) -> bool:
    """Whether the message carries a part that may quote another message (a report)."""
    return any(a.content_type in QUOTING_TYPES for a in message.attachments.all())


def _chunks(values: list[str]) -> list[list[str]]:
    return [values[i : i + _CHUNK] for i in range(0, len(values), _CHUNK)]


def _stands_alone(message: Message, ids: ThreadIds, found: BatchThreading) -> bool:
    """Whether no rule of ``threading.decide`` can join the message to a conversation."""
    parents = ids.parents()
    if any(looks_like_ours(i) for i in [ids.message_id, *parents]):
        return False
    if any(i in found.known for i in parents):
        return False
    if ids.message_id and ids.message_id in found.named:
        return False
    return not CASE_TAG.search(ids.subject) and not quotes(message)


def prepare_batch(
    messages: list[Message], contacts: dict[str, Contact], kinds: dict[int, str]
) -> BatchThreading:
    """Index the batch's references, look up what it names, and start the conversations of
    the messages that stand alone (see the module docstring). ``kinds``: the kind of automatic
    mail of those that are, their new conversation's mark."""
    found = BatchThreading()
    waiting = [m for m in messages if m.conversation_id is None]
    if not waiting:
        return found
    index_references_of(waiting)
    found.indexed = {m.pk for m in waiting}
    all_ids = {m.pk: ids_of(m) for m in waiting}
    parents = sorted({p for ids in all_ids.values() for p in ids.parents()})
    for chunk in _chunks(parents):
        found.known.update(row[2] for row in messages_named(chunk))
        found.known.update(row[1] for row in replies_named(chunk))
    own = sorted({ids.message_id for ids in all_ids.values() if ids.message_id})
    for chunk in _chunks(own):
        found.named.update(referenced(chunk))
    alone = [m for m in waiting if _stands_alone(m, all_ids[m.pk], found)]
    if alone and connection.features.can_return_columns_from_insert:
        found.started = _start_alone(alone, contacts, kinds)
    return found


def _start_alone(
    messages: list[Message], contacts: dict[str, Contact], kinds: dict[int, str]
) -> dict[int, Conversation]:
    """A new conversation for each message, created and claimed in bulk; a message that another
    process placed meanwhile is left out (and the conversation made for it removed)."""
    senders = [contacts.get(contact_address(m.from_email)) for m in messages]
    values = [
        {
            "mailbox_id": m.mailbox_id,
            "subject": m.subject,
            "contact_id": contact.pk if contact else None,
            "marks": [kinds[m.pk]] if kinds.get(m.pk) else [],
            "created_at": timezone.now(),
        }
        for m, contact in zip(messages, senders, strict=True)
    ]
    started = []
    for pk, row in zip(insert_returning_ids(Conversation, values), values, strict=True):
        conversation = Conversation(pk=pk, **row)
        conversation._state.adding = False
        conversation._state.db = connection.alias
        started.append(conversation)
    table = connection.ops.quote_name(Message._meta.db_table)
    sql = (
        f"UPDATE {table} SET conversation_id = %s, contact_id = %s "  # noqa: S608
        "WHERE id = %s AND conversation_id IS NULL"
    )
    rows: list[list[Any]] = [
        [c.pk, contact.pk if contact else None, m.pk]
        for m, c, contact in zip(messages, started, senders, strict=True)
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
    placed = dict(
        Message.objects.filter(pk__in=[m.pk for m in messages]).values_list("pk", "conversation")
    )
    claimed: dict[int, Conversation] = {}
    unused: list[int] = []
    for message, conversation in zip(messages, started, strict=True):
        if placed.get(message.pk) == conversation.pk:
            claimed[message.pk] = conversation
        else:
            unused.append(conversation.pk)
    if unused:
        Conversation.objects.filter(pk__in=unused).delete()
    return claimed
