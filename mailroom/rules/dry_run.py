"""The rule editor's dry run: for a rule as it is being edited, which of the mailbox's latest
emails it would answer, in which language, and why not for the others (the condition that
failed, or the loop rule that forbids it).

It plans only: it reads the same checks the respond step acts on (``rules.evaluate``,
``pipeline.loop_safety``'s read-only checks, the reply-language chain) and writes nothing —
no answer record, no alert, no outbox row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mailroom.mime.autoreply import automated_reason
from mailroom.models import AutoResponseRule, Mailbox, Message, OutboxMessage, ProcessingRecord
from mailroom.outbox.queue import reply_language
from mailroom.pipeline.base import Context
from mailroom.pipeline.loop_safety import answer_refusal, check_message, reply_to
from mailroom.rules.evaluate import ConditionSpec, evaluate_rule
from mailroom.rules.fields import message_fields
from mailroom.store.parsed import parsed_from_row

# How many of the mailbox's latest emails a dry run looks at.
DRY_RUN_SIZE = 50


@dataclass(frozen=True)
class DraftRule:
    """The rule as the editor holds it: maybe unsaved (``rule`` None), maybe changed."""

    conditions: list[ConditionSpec]
    case_sensitive: bool
    # The response's languages and its default one.
    languages: list[str]
    default_language: str
    rule: AutoResponseRule | None = None


@dataclass(frozen=True)
class PlannedAnswer:
    """What the rule would do with one email: answer it (to whom, in which language and why
    that one) or not (why not)."""

    message: Message
    answer: bool
    address: str = ""
    language: str = ""
    reason: str = ""


def _plan(draft: DraftRule, message: Message, cache: dict[str, Any]) -> PlannedAnswer:
    parsed = parsed_from_row(message)
    result = evaluate_rule(
        draft.conditions, message_fields(parsed), case_sensitive=draft.case_sensitive
    )
    if not result.matched:
        failed = result.failed
        where = f"condition {failed.index + 1}: " if failed else ""
        return PlannedAnswer(message, False, reason=f"{where}{failed.text if failed else ''}")
    record = getattr(message, "processing", None) or ProcessingRecord(message=message)
    ctx = Context(
        message=message,
        mailbox=message.mailbox,
        parsed=parsed,
        record=record,
        automated_reason=automated_reason(parsed),
        contact=message.contact,
        cache=cache,
    )
    refusal = check_message(ctx)
    if refusal:
        return PlannedAnswer(message, False, reason=refusal)
    address = reply_to(ctx)
    assert address is not None  # check_message returned None
    if draft.rule is not None:
        if OutboxMessage.objects.filter(in_reply_to=message, rule=draft.rule).exists():
            return PlannedAnswer(message, False, reason="this message was answered already")
        refusal = answer_refusal(ctx, draft.rule, address)
        if refusal:
            return PlannedAnswer(message, False, reason=refusal)
    if not draft.languages:
        return PlannedAnswer(message, False, reason="the response has no text yet")
    choice = reply_language(
        parsed, draft.languages, draft.default_language, message.contact, message.mailbox.language
    )
    language = choice.language or choice.translation
    return PlannedAnswer(message, True, address=address, language=f"{language} ({choice.why})")


def dry_run(mailbox: Mailbox, draft: DraftRule, size: int = DRY_RUN_SIZE) -> list[PlannedAnswer]:
    """The plan for each of the mailbox's latest ``size`` emails, newest first."""
    latest = (
        mailbox.messages.select_related("mailbox", "contact", "processing")
        .prefetch_related("attachments")
        .order_by("-id")[:size]
    )
    cache: dict[str, Any] = {}
    return [_plan(draft, message, cache) for message in latest]
