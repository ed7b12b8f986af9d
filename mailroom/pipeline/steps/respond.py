"""Step: evaluate the mailbox's autoresponse rules and queue at most one reply per rule."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from django.db import transaction
from django.utils import timezone

from mailroom import conf, metrics
from mailroom.alerts import raise_alert, resolve_alert
from mailroom.mime.autoreply import DELIVERY_FAILED, reply_address, stale_reason
from mailroom.mime.quoted import QUOTING_TYPES, quoted_message_ids
from mailroom.models import AnswerRecord, AutoResponseRule, Mailbox, OutboxMessage
from mailroom.outbox.queue import queue_autoresponse
from mailroom.pipeline.active_rules import active_rules
from mailroom.pipeline.base import Context, Stop
from mailroom.rendering.render import TemplateMissing
from mailroom.rules.evaluate import ConditionSpec, MessageFields, evaluate_rule
from mailroom.rules.fields import message_fields

# The alert raised when a mailbox reaches MAILROOM_AUTORESPONSE_MAX_PER_HOUR.
CAP_ALERT = "autoresponse-cap"


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
    address = reply_address(ctx.parsed, from_fallback=conf.AUTORESPONSE_FROM_FALLBACK)
    if address is None:
        return "no usable Return-Path"
    if "system_addresses" not in ctx.cache:
        ctx.cache["system_addresses"] = {
            email.lower() for email in Mailbox.objects.values_list("email", flat=True)
        }
    if address.lower() in ctx.cache["system_addresses"]:
        return "the sender is a system mailbox"
    days = conf.AUTORESPONSE_BOUNCE_BLOCK_DAYS
    if AnswerRecord.objects.bounced_since(
        ctx.mailbox, address, timezone.now() - timedelta(days=days)
    ):
        return f"an answer to {address} bounced in the last {days} days"
    # Row A21: our own mail, come back without its loop header.
    own_domain = f"@{conf.MESSAGE_ID_DOMAIN.lower()}>"
    message_id = ctx.parsed.message_id
    if message_id and (
        message_id.lower().endswith(own_domain)
        or OutboxMessage.objects.filter(message_id=message_id).exists()
    ):
        return "our own mail (its Message-ID is mailroom's)"
    stale = stale_reason(
        arrived=ctx.message.internal_date,
        dated=ctx.message.date,
        now=timezone.now(),
        max_age=timedelta(hours=conf.AUTORESPONSE_MAX_AGE_HOURS),
        skew=timedelta(minutes=conf.AUTORESPONSE_CLOCK_SKEW_MINUTES),
    )
    return f"stale: {stale}" if stale else None


def _note_bounce(ctx: Context) -> str | None:
    """Row A42: a delivery report about an answer of ours blocks its recipient for
    MAILROOM_AUTORESPONSE_BOUNCE_BLOCK_DAYS. Return what was noted, or None."""
    if ctx.automated_kind != DELIVERY_FAILED:
        return None
    ids = [ctx.parsed.in_reply_to, *ctx.parsed.references]
    if any(a.content_type in QUOTING_TYPES for a in ctx.parsed.attachments):
        ids += quoted_message_ids(ctx.message.read_raw())
    ids = [i for i in ids if i]
    if not ids:
        return None
    addresses = sorted(
        set(
            OutboxMessage.objects.filter(
                mailbox=ctx.mailbox, rule__isnull=False, message_id__in=ids
            ).values_list("to_email", flat=True)
        )
    )
    if not addresses:
        return None
    AnswerRecord.objects.note_bounce(ctx.mailbox, addresses, timezone.now())
    return (
        f"our answer to {', '.join(addresses)} bounced: not answered for "
        f"{conf.AUTORESPONSE_BOUNCE_BLOCK_DAYS} days"
    )


def _cap_reached(ctx: Context) -> str | None:
    """Why the mailbox may send no more answers this hour, or None.

    The count of the last 60 minutes is read once per batch and counted up with each claim.
    Reaching the cap raises one alert, kept open while the cap holds; the first answer let
    through again resolves it, so that the next time the cap trips it alerts again.
    """
    counts: dict[int, int] = ctx.cache.setdefault("answers_last_hour", {})
    pk = ctx.mailbox.pk
    if pk not in counts:
        since = timezone.now() - timedelta(hours=1)
        counts[pk] = AnswerRecord.objects.answered_since(ctx.mailbox, since)
    cap = conf.AUTORESPONSE_MAX_PER_HOUR
    alerted: set[int] = ctx.cache.setdefault("cap_alerted", set())
    if counts[pk] >= cap:
        if pk not in alerted:
            raise_alert(
                pk,
                CAP_ALERT,
                f"{ctx.mailbox.label}: {cap} automatic answers in the last hour, the most "
                "MAILROOM_AUTORESPONSE_MAX_PER_HOUR allows; further mail is not answered "
                "until the hour's count falls below it (a flood of mail, or forged senders?)",
            )
            alerted.add(pk)
        return f"{cap} answers in the last hour, the mailbox's limit"
    # Once per batch and mailbox: answering is possible again, so an open alert is resolved.
    resolved: set[int] = ctx.cache.setdefault("cap_resolved", set())
    if pk not in resolved:
        resolve_alert(pk, CAP_ALERT)
        resolved.add(pk)
        alerted.discard(pk)
    return None


def _claim(ctx: Context, rule: AutoResponseRule, address: str) -> str | None:
    """Claim the answer to ``address`` for ``rule``; return why not, or None when claimed."""
    capped = _cap_reached(ctx)
    if capped:
        metrics.SUPPRESSED.inc()
        return f"reply suppressed: {capped}"
    days = conf.AUTORESPONSE_WINDOW_DAYS
    if not AnswerRecord.objects.claim(
        rule=rule,
        address=address,
        message=ctx.message,
        now=timezone.now(),
        window=timedelta(days=days),
    ):
        return f"already answered {address} within {days} days"
    ctx.cache["answers_last_hour"][ctx.mailbox.pk] += 1
    return None


class Respond:
    """Queue a reply for every active rule whose conditions all hold, loop rules permitting."""

    name: ClassVar[str] = "respond"
    description: ClassVar[str] = "Evaluate autoresponse rules and queue replies"

    def run(self, ctx: Context) -> str | Stop:
        bounce = _note_bounce(ctx)
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
        reason = _suppression(ctx)
        if reason:
            metrics.SUPPRESSED.inc()
            return f"reply suppressed: {reason}"
        address = reply_address(ctx.parsed, from_fallback=conf.AUTORESPONSE_FROM_FALLBACK)
        assert address is not None  # _suppression returned None
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
            refusal = _claim(ctx, rule, address)
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
