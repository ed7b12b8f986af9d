"""Compose a reply and write it to the outbox with its Message-ID fixed before any attempt."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from mailroom import conf
from mailroom.conversations.ids import conversation_message_id
from mailroom.mime.compose import compose_reply, make_message_id
from mailroom.mime.html_text import html_to_text
from mailroom.mime.parse import ParsedMessage
from mailroom.models import AutoResponseRule, Contact, Message, OutboxMessage, TemplateType
from mailroom.rendering.language import LanguageChoice, choose_language
from mailroom.rendering.render import Translation, render
from mailroom.rendering.values import day, record_values
from mailroom.tasks.dispatch import enqueue

# Marks our own replies so a copy that comes back is recognised (X-Mailroom-Loop).
LOOP_TOKEN_PREFIX = "mailroom"  # noqa: S105 (not a secret)


def loop_token() -> str:
    """The value of our loop header; the same for every message of this installation."""
    return f"{LOOP_TOKEN_PREFIX}@{conf.MESSAGE_ID_DOMAIN}"


@dataclass(frozen=True)
class QueuedReply:
    """The outbox row of a queued reply and the language it was written in, with why."""

    outbox: OutboxMessage
    language: LanguageChoice


def reply_language(
    parsed: ParsedMessage,
    available: list[str],
    default: str,
    contact: Contact | None,
    mailbox_default: str = "",
) -> LanguageChoice:
    """The language to answer ``parsed`` in, among the template's ``available`` translations
    (the chain is in ``mailroom.rendering.language``)."""
    return choose_language(
        available,
        contact_language=contact.language if contact is not None else "",
        content_language=parsed.header("Content-Language") or "",
        accept_language=parsed.header("Accept-Language") or "",
        body_text=parsed.text_body or html_to_text(parsed.html_body),
        mailbox_default=mailbox_default,
        default=default,
    )


def queue_autoresponse(
    message: Message,
    parsed: ParsedMessage,
    rule: AutoResponseRule,
    to_email: str,
    *,
    case_number: int | None = None,
    contact: Contact | None = None,
) -> QueuedReply:
    """Render ``rule``'s template for ``message`` in the sender's language (as far as the
    template has it) and add the reply to the outbox."""
    mailbox = message.mailbox
    template = rule.template
    sender = parsed.from_[0] if parsed.from_ else None
    translations = [Translation(t.language, t.subject, t.body) for t in template.translations.all()]
    language = reply_language(
        parsed,
        [t.language for t in translations],
        template.default_language,
        contact,
        mailbox.language,
    )
    rendered = render(
        translations,
        is_html=template.type == TemplateType.HTML,
        wanted_languages=[language.translation],
        default_language=template.default_language,
        values={
            "sender_name": sender.name if sender and sender.name else to_email,
            "sender_email": to_email,
            "subject": parsed.subject,
            "mailbox_label": mailbox.label,
            "mailbox_email": mailbox.email,
            "date": day(message.internal_date or message.date),
            **record_values(message.conversation_id, case_number),
        },
    )
    subject = rendered.subject or f"Auto: {parsed.subject}".strip()
    # Our Message-ID names the conversation, signed: a reply to it joins that conversation.
    if message.conversation_id is not None:
        message_id = conversation_message_id(message.conversation_id, conf.MESSAGE_ID_DOMAIN)
    else:
        message_id = make_message_id(conf.MESSAGE_ID_DOMAIN)
    raw = compose_reply(
        from_name=mailbox.label,
        from_email=mailbox.email,
        to_email=to_email,
        subject=subject,
        text=rendered.text,
        html=rendered.html,
        message_id=message_id,
        in_reply_to=parsed.message_id,
        references=parsed.references,
        loop_token=loop_token(),
        date=timezone.now(),
        # A canonical tag built by choose_language, never the sender's text.
        language=language.language or None,
    )
    row = OutboxMessage.objects.create(
        mailbox=mailbox,
        in_reply_to=message,
        rule=rule,
        message_id=message_id,
        to_email=to_email,
        subject=subject,
        raw=raw,
    )
    enqueue("send_outbox", row.pk)
    return QueuedReply(row, language)
