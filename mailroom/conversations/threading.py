"""Which conversation of its mailbox a message belongs to: decide, then act.

A message joins a conversation of its own mailbox, found in this order:

1. a Message-ID of ours (``ids.py``) in its own Message-ID, In-Reply-To, References or, for a
   report, in the message it quotes, whose signature verifies and whose conversation is of
   this mailbox;
2. a message of this mailbox whose Message-ID is its In-Reply-To, one of its References (the
   nearest first) or one the report quotes; an autoresponse of ours named the same way;
3. a message of this mailbox that names this message's own Message-ID in In-Reply-To or
   References (a reply that arrived before its parent): the ``MessageReference`` index.
   Messages that merely name the same unknown id (a hundred customers answering one
   newsletter sent from elsewhere) are not joined to each other, and a message whose
   Message-ID an earlier one of the mailbox already has is not taken for the parent (F06c);
4. a subject tag ``[Case 12]`` of a Case of this mailbox whose Contact is the sender.

Nothing ever crosses mailboxes (threats.md S12): every lookup is filtered by mailbox, and an id
shaped like ours whose signature does not verify is treated as unknown everywhere.
Otherwise the message starts a new conversation.

Two related messages processed at once by two workers never start two conversations: the
thread step reads its own row with a lock, and a parent found without a conversation is
adopted only if it still has none (``adopt_parent``); whoever comes second waits for the
first's commit and joins its conversation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

from mailroom.conversations.ids import looks_like_ours, signed_conversation
from mailroom.models import (
    Case,
    Conversation,
    Mailbox,
    Message,
    MessageReference,
    OutboxMessage,
)

CASE_TAG = re.compile(r"\[\s*Case\s*#?\s*(\d{1,18})\s*\]", re.IGNORECASE)


@dataclass(frozen=True)
class ThreadIds:
    """What threading looks at: the message's ids, the ids a report quotes, the subject."""

    message_id: str
    in_reply_to: str
    references: list[str]
    quoted: list[str] = field(default_factory=list)
    subject: str = ""

    def parents(self) -> list[str]:
        """In-Reply-To, the References nearest first, then the quoted ids; no repeats."""
        ordered = [self.in_reply_to, *reversed(self.references), *self.quoted]
        return [i for i in dict.fromkeys(ordered) if i and i != self.message_id]


@dataclass(frozen=True)
class ThreadDecision:
    """The conversation to join (None: start a new one), how it was found, and the ids that
    were set aside (forged or another mailbox's)."""

    conversation_id: int | None
    how: str
    # A message of this mailbox found as parent that has no conversation yet (not processed
    # yet): it is put into the same conversation as this one.
    orphan_parent_id: int | None = None
    ignored: list[str] = field(default_factory=list)


# The lookups every processed message makes, in plain SQL (the same on SQLite and
# PostgreSQL): building them through the ORM cost more than running them.


def _rows(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def messages_named(msg_ids: list[str]) -> list[tuple[Any, ...]]:
    """(id, mailbox, Message-ID, conversation) of the stored messages with these ids, newest
    first. By Message-ID alone, the mailbox is checked by the caller: filtered by mailbox in
    SQL, SQLite would walk the mailbox's index (every message of it) instead of the id's."""
    table = connection.ops.quote_name(Message._meta.db_table)
    marks = ", ".join(["%s"] * len(msg_ids))
    sql = (
        f"SELECT id, mailbox_id, message_id, conversation_id FROM {table} "  # noqa: S608
        f"WHERE message_id IN ({marks}) ORDER BY id DESC"
    )
    return _rows(sql, list(msg_ids))


def replies_named(msg_ids: list[str]) -> list[tuple[Any, ...]]:
    """(mailbox, Message-ID, conversation answered) of our replies with these ids."""
    outbox = connection.ops.quote_name(OutboxMessage._meta.db_table)
    messages = connection.ops.quote_name(Message._meta.db_table)
    marks = ", ".join(["%s"] * len(msg_ids))
    sql = (
        f"SELECT o.mailbox_id, o.message_id, m.conversation_id FROM {outbox} o "  # noqa: S608
        f"LEFT JOIN {messages} m ON m.id = o.in_reply_to_id "
        f"WHERE o.message_id IN ({marks}) ORDER BY o.id DESC"
    )
    return _rows(sql, list(msg_ids))


def referenced(msg_ids: list[str]) -> set[str]:
    """Which of ``msg_ids`` a stored message (of any mailbox) names in In-Reply-To or
    References."""
    refs = connection.ops.quote_name(MessageReference._meta.db_table)
    marks = ", ".join(["%s"] * len(msg_ids))
    sql = f"SELECT DISTINCT ref_id FROM {refs} WHERE ref_id IN ({marks})"  # noqa: S608
    return {row[0] for row in _rows(sql, list(msg_ids))}


def _reply_to(mailbox_id: int, msg_id: str, message_pk: int) -> tuple[Any, ...] | None:
    """(conversation, id) of the first stored and threaded message of the mailbox that names
    ``msg_id`` in In-Reply-To or References."""
    refs = connection.ops.quote_name(MessageReference._meta.db_table)
    messages = connection.ops.quote_name(Message._meta.db_table)
    sql = (
        f"SELECT m.conversation_id, m.id FROM {refs} r "  # noqa: S608
        f"JOIN {messages} m ON m.id = r.message_id "
        "WHERE r.mailbox_id = %s AND r.ref_id = %s AND r.message_id <> %s "
        "AND m.conversation_id IS NOT NULL ORDER BY r.message_id LIMIT 1"
    )
    found = _rows(sql, [mailbox_id, msg_id, message_pk])
    return found[0] if found else None


def _stored_before(mailbox_id: int, msg_id: str, message_pk: int) -> bool:
    """Whether a message of the mailbox stored before ``message_pk`` has the Message-ID
    ``msg_id``."""
    return any(
        in_mailbox == mailbox_id and pk < message_pk
        for pk, in_mailbox, _id, _conversation in messages_named([msg_id])
    )


def _by_signature(mailbox: Mailbox, ids: list[str], ignored: list[str]) -> tuple[int, str] | None:
    for msg_id in ids:
        if not looks_like_ours(msg_id):
            continue
        conversation_id = signed_conversation(msg_id)
        if conversation_id is None:
            ignored.append(f"{msg_id}: shaped like ours, bad signature")
            continue
        if not Conversation.objects.filter(pk=conversation_id, mailbox=mailbox).exists():
            ignored.append(f"{msg_id}: not a conversation of this mailbox")
            continue
        return conversation_id, f"our Message-ID {msg_id}"
    return None


def decide(mailbox: Mailbox, message_pk: int, ids: ThreadIds, sender: str) -> ThreadDecision:
    """Find the conversation the message belongs to (see the module docstring). Reads only,
    and only ids: this runs for every message processed."""
    ignored: list[str] = []
    parents = ids.parents()
    signed = _by_signature(mailbox, [ids.message_id, *parents], ignored)
    if signed is not None:
        return ThreadDecision(signed[0], signed[1], ignored=ignored)
    plain = [i for i in parents if not looks_like_ours(i)]
    if plain:
        found: dict[str, tuple[int, int | None]] = {}
        for pk, in_mailbox, msg_id, in_conversation in messages_named(plain):
            if in_mailbox == mailbox.pk and pk != message_pk:
                found[msg_id] = (pk, in_conversation)  # the oldest one with this id wins
        missing = [i for i in plain if i not in found]
        sent: dict[str, int | None] = {}
        if missing:
            sent = {
                msg_id: conversation_id
                for in_mailbox, msg_id, conversation_id in replies_named(missing)
                if in_mailbox == mailbox.pk
            }
        for msg_id in plain:
            if msg_id in found:
                parent_pk, conversation_id = found[msg_id]
                how = f"{'In-Reply-To' if msg_id == ids.in_reply_to else 'reference'} {msg_id}"
                if conversation_id is None:
                    return ThreadDecision(None, how, orphan_parent_id=parent_pk, ignored=ignored)
                return ThreadDecision(conversation_id, how, ignored=ignored)
            if sent.get(msg_id) is not None:
                return ThreadDecision(sent[msg_id], f"our reply {msg_id}", ignored=ignored)
    if ids.message_id and not looks_like_ours(ids.message_id):
        # Only replies to this very message, never siblings that merely name the same id: a
        # hundred customers answering one newsletter are a hundred conversations. And only
        # while the parent is missing: when an earlier message of the mailbox already has this
        # Message-ID, the replies are that one's, and this one reuses its id (threats.md F06c:
        # a forged copy must not slip into the victim's conversation).
        # (Asked only when a reply names it: most mail has none, and pays no second lookup.)
        reply = _reply_to(mailbox.pk, ids.message_id, message_pk)
        if reply is not None:
            if not _stored_before(mailbox.pk, ids.message_id, message_pk):
                how = f"a reply to it (message {reply[1]})"
                return ThreadDecision(reply[0], how, ignored=ignored)
            ignored.append(
                f"{ids.message_id}: an earlier message of this mailbox has this Message-ID "
                "(its replies are not taken for this one's)"
            )
    tag = CASE_TAG.search(ids.subject)
    if tag and sender:
        tagged = (
            Case.objects.filter(
                number=int(tag.group(1)),
                conversation__mailbox=mailbox,
                contact__email=sender.lower(),
            )
            .values_list("conversation_id", flat=True)
            .first()
        )
        if tagged is not None:
            return ThreadDecision(tagged, f"subject tag {tag.group(0)}", ignored=ignored)
    return ThreadDecision(None, "new conversation", ignored=ignored)
