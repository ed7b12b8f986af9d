"""Queue a reply a person wrote, and try a failed one again. Callers validate (the reply form)
and check access; these are atomic."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from mailroom import conf
from mailroom.alerts import resolve_alert
from mailroom.conversations.ids import conversation_message_id, signed_conversation
from mailroom.mime.compose import compose_message, make_message_id
from mailroom.models import Message, OutboxMessage, OutboxState, SentCopy
from mailroom.rendering.sanitize import clean_template_html
from mailroom.replies.draft import (
    Original,
    html_with_quote,
    readable_text,
    text_with_quote,
)
from mailroom.tasks.dispatch import enqueue

# What may be sent again: refused for good, or (after a warning) of unknown outcome.
RETRYABLE = (OutboxState.FAILED, OutboxState.ABANDONED)


@dataclass(frozen=True)
class ReplyInput:
    """A reply as its author wrote it: plain addresses, the subject, and the text or the HTML
    (``html`` None for a text reply; it is cleaned here whatever the caller did)."""

    to: list[str]
    cc: list[str]
    subject: str
    text: str
    html: str | None = None
    quote: bool = True


def original_of(message: Message) -> Original:
    """What the quote of ``message`` needs."""
    return Original(
        date=timezone.localtime(message.date) if message.date else None,
        sender_name=message.from_name,
        sender_email=message.from_email,
        text=message.text_body,
        html=message.html_body,
    )


# The text part, the HTML part (or None) and the answer without the quote.
_Bodies = tuple[str, str | None, str]


def _bodies(data: ReplyInput, message: Message) -> _Bodies:
    """The text part, the HTML part (or None) and the text without the quote."""
    original = original_of(message) if data.quote else None
    if data.html is None:
        return text_with_quote(data.text, original), None, data.text.strip()
    markup = clean_template_html(data.html)
    answer = readable_text(markup)
    return text_with_quote(answer, original), html_with_quote(markup, original), answer


def new_reply_id(message: Message) -> str:
    """A Message-ID for a reply to ``message``: it names the conversation, signed, so the
    customer's answer joins it (a random one while the message has no conversation yet)."""
    if message.conversation_id is not None:
        return conversation_message_id(message.conversation_id, conf.MESSAGE_ID_DOMAIN)
    return make_message_id(conf.MESSAGE_ID_DOMAIN)


def _reply_id(message: Message, proposed: str) -> str:
    """``proposed`` (fixed when the form was opened) if it is one of ours for this message: signed
    for its conversation, or while it has none, random under our domain; else a new one."""
    domain = re.escape(conf.MESSAGE_ID_DOMAIN.strip().lower())
    conversation = message.conversation_id
    if conversation is not None:
        ours = re.fullmatch(rf"<[^<>@\s]+@{domain}>", proposed) is not None
        if ours and signed_conversation(proposed) == conversation:
            return proposed
    elif re.fullmatch(rf"<[0-9a-f]{{32}}@{domain}>", proposed):
        return proposed
    return new_reply_id(message)


def _same_reply(
    row: OutboxMessage, message: Message, author: User, data: ReplyInput, bodies: _Bodies
) -> bool:
    """Whether ``row`` is this very reply (the same form posted twice), not another one
    written in a form restored by the browser."""
    _text, html, answer = bodies
    return (
        row.in_reply_to_id == message.pk
        and row.author_id == author.pk
        and row.subject == data.subject
        and row.to_email == ", ".join(data.to)
        and list(row.cc) == list(data.cc)
        and row.body_text == answer
        and row.body_html == (html or "")
    )


@transaction.atomic
def queue_reply(
    message: Message, author: User, data: ReplyInput, *, message_id: str = ""
) -> OutboxMessage:
    """Compose the reply to ``message`` from its mailbox and add it to the outbox, to be sent
    once this transaction commits.

    ``message_id`` is the id the form was opened with: the same form sent twice (a double
    click, a reload that posts again) is one reply, the row already queued under that id.
    """
    mailbox = message.mailbox
    message_id = _reply_id(message, message_id)
    bodies = _bodies(data, message)
    text, html, answer = bodies
    queued = OutboxMessage.objects.filter(message_id=message_id).first()
    if queued is not None and _same_reply(queued, message, author, data, bodies):
        return queued
    if queued is not None:
        # Another reply under the same form's id (written after going back): its own id.
        message_id = new_reply_id(message)
    raw = compose_message(
        from_name=mailbox.label,
        from_email=mailbox.email,
        to=data.to,
        cc=data.cc,
        subject=data.subject,
        text=text,
        html=html,
        message_id=message_id,
        in_reply_to=message.message_id,
        references=list(message.references or []),
        date=timezone.now(),
    )
    try:
        with transaction.atomic():
            row = OutboxMessage.objects.create(
                mailbox=mailbox,
                in_reply_to=message,
                author=author,
                message_id=message_id,
                to_email=", ".join(data.to),
                cc=data.cc,
                subject=data.subject,
                body_text=answer,
                body_html=html or "",
                raw=raw,
                sent_copy=SentCopy.PENDING,
            )
    except IntegrityError:
        # The same form, sent at the same moment by a second request: that one queued it.
        return OutboxMessage.objects.get(message_id=message_id)
    enqueue("send_outbox", row.pk)
    return row


@transaction.atomic
def retry_reply(row: OutboxMessage) -> bool:
    """Send a refused (or, the caller having warned, possibly delivered) reply again, with
    the same Message-ID, as soon as a sender takes it; False when it is not in such a state."""
    again = OutboxMessage.objects.filter(pk=row.pk, state__in=RETRYABLE).update(
        state=OutboxState.PENDING,
        attempts=0,
        next_attempt_at=None,
        data_started_at=None,
        last_error="",
    )
    if not again:
        return False
    resolve_alert(row.mailbox_id, f"abandoned:{row.pk}")
    enqueue("send_outbox", row.pk)
    return True
