"""Step: put the message into a conversation of its mailbox, and find its sender's Contact.

Threading is a pipeline step rather than part of storing: it needs the classification (a
report is threaded by the message it quotes, and marks its conversation), it reads the
conversations that processing creates, and storing stays the bulk hot path that never looks
at another message's meaning. The rules are in ``mailroom.conversations.threading``.
"""

from __future__ import annotations

from typing import ClassVar

from mailroom.conversations.actions import (
    adopt_parent,
    contact_for,
    current_conversation_id,
    index_references,
    mark,
    put_in_conversation,
    start_conversation,
)
from mailroom.conversations.threading import ThreadIds, decide
from mailroom.mime.autoreply import automated_kind
from mailroom.mime.quoted import QUOTING_TYPES, quoted_message_ids
from mailroom.models import Conversation
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

    def run(self, ctx: Context) -> str | Stop:
        message, parsed = ctx.message, ctx.parsed
        contact = contact_for(parsed, ctx.cache)
        ctx.contact = contact
        if ctx.automated_reason:
            ctx.automated_kind = automated_kind(parsed)
        index_references(message, parsed)
        # A reply processed before it may have put it into a conversation meanwhile.
        message.conversation_id = current_conversation_id(message)
        if message.conversation_id is not None:
            # Put there already: by a reply processed before it, or by an earlier attempt.
            placed = Conversation.objects.get(pk=message.conversation_id)
            put_in_conversation(message, placed, contact)
            ctx.conversation, ctx.joined = placed, placed.messages.count() > 1
            return f"conversation {placed.pk} (placed there by a reply)"
        ids = ThreadIds(
            message_id=parsed.message_id,
            in_reply_to=parsed.in_reply_to,
            references=parsed.references,
            quoted=_quoted(ctx),
            subject=parsed.subject,
        )
        decision = decide(ctx.mailbox, message.pk, ids, contact.email if contact else "")
        notes = [f"ignored {reason}" for reason in decision.ignored]
        how = decision.how
        conversation: Conversation | None = decision.conversation
        note = ""
        if conversation is None and decision.orphan_parent is not None:
            parent = decision.orphan_parent
            started = start_conversation(ctx.mailbox, parsed.subject, contact)
            if adopt_parent(parent, started):
                ctx.joined = True
                conversation = started
                note = f"conversation {started.pk} started with its parent ({how})"
            else:
                # Another worker threaded the parent meanwhile: join its conversation.
                started.delete()
                parent.refresh_from_db(fields=["conversation"])
                conversation = parent.conversation
        if conversation is None:
            marks = [ctx.automated_kind] if ctx.automated_kind else []
            conversation = start_conversation(ctx.mailbox, parsed.subject, contact, marks=marks)
            note = f"conversation {conversation.pk} started"
        elif not note:
            ctx.joined = True
            mark(conversation, ctx.automated_kind)
            note = f"joined conversation {conversation.pk} by {how}"
        notes.insert(0, note)
        put_in_conversation(message, conversation, contact)
        ctx.conversation = conversation
        return "; ".join(notes)
