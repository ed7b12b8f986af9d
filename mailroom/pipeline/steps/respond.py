"""Step: evaluate the mailbox's autoresponse rules and queue at most one reply per rule."""

from __future__ import annotations

from typing import ClassVar

from django.db import transaction

from mailroom import metrics
from mailroom.models import OutboxMessage
from mailroom.outbox.queue import queue_autoresponse
from mailroom.pipeline.active_rules import active_rules
from mailroom.pipeline.base import Context, Stop
from mailroom.pipeline.loop_safety import check_message, claim_answer, note_bounce, reply_to
from mailroom.rendering.render import TemplateMissing
from mailroom.rules.evaluate import ConditionSpec, MessageFields, evaluate_rule
from mailroom.rules.fields import message_fields


def _fields(ctx: Context) -> MessageFields:
    """What rule conditions see of the message (:func:`message_fields`). Bcc is known only
    where the server delivers a Bcc header in the stored message; otherwise it is empty."""
    return message_fields(ctx.parsed)


class Respond:
    """Queue a reply for every active rule whose conditions all hold, loop rules permitting."""

    name: ClassVar[str] = "respond"
    description: ClassVar[str] = "Evaluate autoresponse rules and queue replies"

    def run(self, ctx: Context) -> str | Stop:
        bounce = note_bounce(ctx)
        if bounce:
            return bounce
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
        reason = check_message(ctx)
        if reason:
            metrics.SUPPRESSED.inc()
            return f"reply suppressed: {reason}"
        address = reply_to(ctx)
        assert address is not None  # check_message returned None
        queued = []
        for rule in rules:
            if rule.name not in hits:
                continue
            # Processing the message again ("Process again") never answers it twice: one outbox
            # row per message and rule, whatever became of it (sent, refused, abandoned), and
            # however long ago (the answer record below counts live replies only).
            if OutboxMessage.objects.filter(in_reply_to=ctx.message, rule=rule).exists():
                queued.append(f"{rule.name}: this message was answered already")
                continue
            refusal = claim_answer(ctx, rule, address)
            if refusal:
                queued.append(f"{rule.name}: {refusal}")
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
