"""Step: put the message into a conversation of its mailbox, and find its sender's Contact.

Threading is a pipeline step rather than part of storing: it needs the classification (a
report is threaded by the message it quotes, and marks its conversation), it reads the
conversations that processing creates, and storing stays the bulk hot path that never looks
at another message's meaning. The rules are in ``mailroom.conversations.threading``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from mailroom.conversations.actions import (
    claim,
    contact_for,
    index_references,
    mark,
    preload_contacts,
    put_in_conversation,
    start_conversation,
)
from mailroom.conversations.batch import BatchThreading, prepare_batch
from mailroom.conversations.threading import ThreadDecision, ThreadIds, decide
from mailroom.mime.autoreply import automated_kind
from mailroom.mime.parse import ParsedMessage
from mailroom.mime.quoted import QUOTING_TYPES, quoted_message_ids
from mailroom.models import Conversation, Message
from mailroom.pipeline.base import Context, Stop


def _quoted(ctx: Context) -> list[str]:
    """The ids of the message an automatic message quotes (read from its raw bytes, which
    only reports and some auto-replies need)."""
    if not ctx.automated_reason:
        return []
    if not any(a.content_type in QUOTING_TYPES for a in ctx.parsed.attachments):
        return []
    return quoted_message_ids(ctx.message.read_raw())


class Thread:
    """Join the conversation the message replies to or reports on, or start one."""

    name: ClassVar[str] = "thread"
    description: ClassVar[str] = "Put the message into a conversation of its mailbox"

    @staticmethod
    def prepare(messages: list[Message], cache: dict[str, Any]) -> None:
        """Before a batch: its senders' Contacts, found or created at once; its references
        indexed; a conversation started for each message that stands alone
        (``mailroom.conversations.batch``)."""
        preload_contacts(messages, cache)
        parsed: dict[int, ParsedMessage] = cache.get("parsed", {})
        automated: dict[int, str | None] = cache.get("automated", {})
        kinds = {
            m.pk: automated_kind(parsed[m.pk])
            for m in messages
            if automated.get(m.pk) and m.pk in parsed
        }
        cache["kinds"] = kinds
        cache["threading"] = prepare_batch(messages, cache["contacts"], kinds)

    def run(self, ctx: Context) -> str | Stop:
        message, parsed = ctx.message, ctx.parsed
        contact = contact_for(parsed, ctx.cache)
        ctx.contact = contact
        if ctx.automated_reason:
            kinds: dict[int, str] = ctx.cache.get("kinds", {})
            ctx.automated_kind = kinds.get(message.pk) or automated_kind(parsed)
        batch: BatchThreading = ctx.cache.get("threading") or BatchThreading()
        if message.pk not in batch.indexed:
            index_references(message, parsed)
        notes: list[str] = []
        conversation: Conversation | None = None
        started = batch.started.get(message.pk)
        if started is not None:
            conversation = started
            notes.append(f"conversation {started.pk} started")
        elif message.conversation_id is None:
            ids = ThreadIds(
                message_id=parsed.message_id,
                in_reply_to=parsed.in_reply_to,
                references=parsed.references,
                quoted=_quoted(ctx),
                subject=parsed.subject,
            )
            decision = decide(ctx.mailbox, message.pk, ids, contact.email if contact else "")
            notes.extend(f"ignored {reason}" for reason in decision.ignored)
            conversation = self._place(ctx, decision, notes)
        if conversation is None:
            # A reply processed before it put it into its conversation already.
            placed = Message.objects.values_list("conversation_id", flat=True).get(pk=message.pk)
            conversation = Conversation.objects.get(pk=placed)
            ctx.joined = True
            notes.insert(0, f"conversation {conversation.pk} (placed there before)")
            put_in_conversation(message, conversation, contact)
        else:
            message.conversation, message.contact = conversation, contact
        if ctx.joined:
            mark(conversation, ctx.automated_kind)
        ctx.conversation = conversation
        return "; ".join(notes)

    def _place(
        self, ctx: Context, decision: ThreadDecision, notes: list[str]
    ) -> Conversation | None:
        """Claim the message for the conversation decided on (or a new one); None when it was
        placed meanwhile."""
        message, how = ctx.message, decision.how
        if decision.conversation_id is not None:
            conversation = Conversation.objects.get(pk=decision.conversation_id)
            if not claim(message.pk, conversation, ctx.contact):
                return None
            ctx.joined = True
            notes.insert(0, f"joined conversation {conversation.pk} by {how}")
            return conversation
        marks = [ctx.automated_kind] if ctx.automated_kind else []
        started = start_conversation(ctx.mailbox, ctx.parsed.subject, ctx.contact, marks=marks)
        if not claim(message.pk, started, ctx.contact):
            started.delete()
            return None
        parent = decision.orphan_parent_id
        if parent is None:
            notes.insert(0, f"conversation {started.pk} started")
            return started
        if claim(parent, started):
            ctx.joined = True
            notes.insert(0, f"conversation {started.pk} started with its parent ({how})")
            return started
        # The parent was threaded meanwhile (another worker): join its conversation instead.
        placed = Message.objects.values_list("conversation_id", flat=True).get(pk=parent)
        conversation = Conversation.objects.get(pk=placed)
        put_in_conversation(message, conversation, ctx.contact)
        started.delete()
        ctx.joined = True
        notes.insert(0, f"joined conversation {conversation.pk} by {how}")
        return conversation
