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
   newsletter sent from elsewhere) are not joined to each other;
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

from mailroom.conversations.ids import looks_like_ours, signed_conversation
from mailroom.models import (
    Case,
    Conversation,
    Mailbox,
    Message,
    MessageReference,
    OutboxMessage,
)

_CASE_TAG = re.compile(r"\[\s*Case\s*#?\s*(\d{1,18})\s*\]", re.IGNORECASE)


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

    conversation: Conversation | None
    how: str
    # A message of this mailbox found as parent that has no conversation yet (not processed
    # yet): it is put into the same conversation as this one.
    orphan_parent: Message | None = None
    ignored: list[str] = field(default_factory=list)


def _by_signature(
    mailbox: Mailbox, ids: list[str], ignored: list[str]
) -> tuple[Conversation, str] | None:
    for msg_id in ids:
        if not looks_like_ours(msg_id):
            continue
        conversation_id = signed_conversation(msg_id)
        if conversation_id is None:
            ignored.append(f"{msg_id}: shaped like ours, bad signature")
            continue
        conversation = Conversation.objects.filter(pk=conversation_id).first()
        if conversation is None or conversation.mailbox_id != mailbox.pk:
            ignored.append(f"{msg_id}: not a conversation of this mailbox")
            continue
        return conversation, f"our Message-ID {msg_id}"
    return None


def decide(mailbox: Mailbox, message_pk: int, ids: ThreadIds, sender: str) -> ThreadDecision:
    """Find the conversation the message belongs to (see the module docstring). Reads only."""
    ignored: list[str] = []
    parents = ids.parents()
    signed = _by_signature(mailbox, [ids.message_id, *parents], ignored)
    if signed is not None:
        return ThreadDecision(signed[0], signed[1], ignored=ignored)
    plain = [i for i in parents if not looks_like_ours(i)]
    if plain:
        found = {
            m.message_id: m
            for m in Message.objects.filter(mailbox=mailbox, message_id__in=plain)
            .exclude(pk=message_pk)
            .select_related("conversation")
            .order_by("id")
        }
        sent = {
            o.message_id: o
            for o in OutboxMessage.objects.filter(mailbox=mailbox, message_id__in=plain)
            .select_related("in_reply_to__conversation")
            .order_by("id")
        }
        for msg_id in plain:
            if msg_id in found:
                parent = found[msg_id]
                how = f"{'In-Reply-To' if msg_id == ids.in_reply_to else 'reference'} {msg_id}"
                if parent.conversation is None:
                    return ThreadDecision(None, how, orphan_parent=parent, ignored=ignored)
                return ThreadDecision(parent.conversation, how, ignored=ignored)
            outbox = sent.get(msg_id)
            answered = outbox.in_reply_to if outbox is not None else None
            if answered is not None and answered.conversation is not None:
                how = f"our reply {msg_id}"
                return ThreadDecision(answered.conversation, how, ignored=ignored)
    if ids.message_id and not looks_like_ours(ids.message_id):
        # Only replies to this very message, never siblings that merely name the same id: a
        # hundred customers answering one newsletter are a hundred conversations.
        reference = (
            MessageReference.objects.filter(mailbox=mailbox, ref_id=ids.message_id)
            .exclude(message_id=message_pk)
            .exclude(message__conversation__isnull=True)
            .select_related("message__conversation")
            .order_by("message_id")
            .first()
        )
        if reference is not None:
            conversation = reference.message.conversation
            how = f"a reply to it ({reference.message.message_id or reference.message_id})"
            return ThreadDecision(conversation, how, ignored=ignored)
    tag = _CASE_TAG.search(ids.subject)
    if tag and sender:
        case = (
            Case.objects.filter(
                number=int(tag.group(1)),
                conversation__mailbox=mailbox,
                contact__email=sender.lower(),
            )
            .select_related("conversation")
            .first()
        )
        if case is not None and case.conversation is not None:
            return ThreadDecision(case.conversation, f"subject tag {tag.group(0)}", ignored=ignored)
    return ThreadDecision(None, "new conversation", ignored=ignored)
