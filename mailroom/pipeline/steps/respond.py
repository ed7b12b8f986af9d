"""Step: evaluate the mailbox's autoresponse rules and queue at most one reply per rule."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from django.db import connection, transaction
from django.utils import timezone

from mailroom import conf, metrics
from mailroom.mime.autoreply import reply_address
from mailroom.models import AutoResponseRule, Mailbox, OutboxMessage, OutboxState
from mailroom.outbox.queue import queue_autoresponse
from mailroom.pipeline.active_rules import active_rules
from mailroom.pipeline.base import Context, Stop
from mailroom.rendering.render import TemplateMissing
from mailroom.rules.evaluate import ConditionSpec, MessageFields, evaluate_rule
from mailroom.rules.fields import message_fields

# RFC 3834 §2: the same response to the same sender at most once in this many days.
RESPONSE_WINDOW = timedelta(days=7)


def _fields(ctx: Context) -> MessageFields:
    """What rule conditions see of the message (:func:`message_fields`). Bcc is known only
    where the server delivers a Bcc header in the stored message; otherwise it is empty."""
    return message_fields(ctx.parsed)


def _suppression(ctx: Context) -> str | None:
    """Why no rule may answer this message at all, or None."""
    if ctx.message.is_history:
        return "history: the mail was on the server before the mailbox was connected"
    if ctx.automated_reason:
        return f"automatic mail ({ctx.automated_reason})"
    address = reply_address(ctx.parsed)
    if address is None:
        return "no usable Return-Path"
    if "system_addresses" not in ctx.cache:
        ctx.cache["system_addresses"] = {
            email.lower() for email in Mailbox.objects.values_list("email", flat=True)
        }
    if address.lower() in ctx.cache["system_addresses"]:
        return "the sender is a system mailbox"
    received = ctx.message.internal_date or ctx.message.date
    max_age = timedelta(hours=conf.AUTORESPONSE_MAX_AGE_HOURS)
    if received is not None and timezone.now() - received > max_age:
        return f"older than {conf.AUTORESPONSE_MAX_AGE_HOURS} hours"
    return None


def _answered_recently(rule: AutoResponseRule, address: str) -> bool:
    # Lock the rule's row: on PostgreSQL two processes answering the same sender for the same
    # rule wait for each other here, so the second sees the first one's reply. (SQLite has one
    # writer at a time: the processing transaction is already exclusive.)
    if connection.features.has_select_for_update:
        AutoResponseRule.objects.select_for_update().filter(pk=rule.pk).first()
    return OutboxMessage.objects.filter(
        rule=rule,
        to_email__iexact=address,
        created_at__gte=timezone.now() - RESPONSE_WINDOW,
        # An abandoned reply was probably delivered: it counts as an answer.
        state__in=[
            OutboxState.PENDING,
            OutboxState.SENDING,
            OutboxState.SENT,
            OutboxState.ABANDONED,
        ],
    ).exists()


class Respond:
    """Queue a reply for every active rule whose conditions all hold, loop rules permitting."""

    name: ClassVar[str] = "respond"
    description: ClassVar[str] = "Evaluate autoresponse rules and queue replies"

    def run(self, ctx: Context) -> str | Stop:
        rules = active_rules(ctx.mailbox)
        if not rules:
            return "no active rule"
        fields = _fields(ctx)
        hits: list[str] = []
        misses: list[str] = []
        failures: list[str] = []
        # In order of position; a matching "stop after this rule" rule ends the evaluation,
        # so the rules after it are neither hits nor misses for this message.
        for rule in rules:
            conditions = [
                ConditionSpec(c.field, c.operator, c.value) for c in rule.conditions.all()
            ]
            result = evaluate_rule(conditions, fields, case_sensitive=rule.case_sensitive)
            if not result.matched:
                misses.append(rule.name)
                failures.append(f"{rule.name}: {result.failed.text if result.failed else ''}")
                continue
            hits.append(rule.name)
            if rule.stop_after:
                break
        ctx.record.rule_hits = hits
        ctx.record.rule_misses = misses
        if not hits:
            return "no rule matched (" + "; ".join(failures) + ")"
        reason = _suppression(ctx)
        if reason:
            metrics.SUPPRESSED.inc()
            return f"reply suppressed: {reason}"
        address = reply_address(ctx.parsed)
        assert address is not None  # _suppression returned None
        queued = []
        for rule in rules:
            if rule.name not in hits:
                continue
            # Processing the message again ("Process again") never answers it twice: one outbox
            # row per message and rule, whatever became of it (sent, refused, abandoned), and
            # however long ago (the 7-day check below looks at live replies only).
            if OutboxMessage.objects.filter(in_reply_to=ctx.message, rule=rule).exists():
                queued.append(f"{rule.name}: this message was answered already")
                continue
            if _answered_recently(rule, address):
                queued.append(f"{rule.name}: already answered {address} within 7 days")
                continue
            try:
                # A savepoint: a reply that cannot be composed must not undo the processor's
                # work (the Case or Lead) nor fail the message.
                with transaction.atomic():
                    reply = queue_autoresponse(
                        ctx.message,
                        ctx.parsed,
                        rule,
                        address,
                        case_number=ctx.case_number,
                        contact=ctx.contact,
                    )
            except (TemplateMissing, ValueError) as exc:
                queued.append(f"{rule.name}: reply not queued: {exc}")
                continue
            language = reply.language
            queued.append(
                f"{rule.name}: reply queued to {address} in "
                f"{language.language or language.translation} ({language.why})"
            )
        return "; ".join(queued)
