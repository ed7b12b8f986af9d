"""Loop safety of the autoresponder: when the respond step must not answer (docs/autoresponse.md).

The message-only checks are ``mailroom.mime.autoreply``; these need the database: our own
mailboxes and mail, bounced answers, stale mail, the hourly caps (per mailbox, and for all
mailboxes together) and the answer record (one answer per rule and sender in a window).
:func:`check_message` and :func:`answer_refusal` only read, so that a dry run can plan with
them; :func:`note_bounce` and :func:`claim_answer` also write, and only the respond step calls
them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from mailroom import conf, metrics
from mailroom.alerts import raise_alert, resolve_alert
from mailroom.mime.autoreply import (
    DELIVERY_FAILED,
    names_recipient,
    reply_address,
    stale_reason,
)
from mailroom.mime.quoted import QUOTING_TYPES, quoted_message_ids
from mailroom.models import AnswerRecord, AutoResponseRule, Mailbox, OutboxMessage
from mailroom.pipeline.base import Context

# The alerts raised on a mailbox that reaches MAILROOM_AUTORESPONSE_MAX_PER_HOUR, or while all
# mailboxes together are at MAILROOM_AUTORESPONSE_MAX_PER_HOUR_ALL.
CAP_ALERT = "autoresponse-cap"
SITE_CAP_ALERT = "autoresponse-cap-all"


def reply_to(ctx: Context) -> str | None:
    """The one address an answer may go to (the Return-Path, or the From under the fallback)."""
    return reply_address(ctx.parsed, from_fallback=conf.AUTORESPONSE_FROM_FALLBACK)


def check_message(ctx: Context) -> str | None:
    """Why no rule may answer this message at all, or None. Reads only."""
    if ctx.message.is_history:
        return "history: the mail was on the server before the mailbox was connected"
    if ctx.automated_reason:
        return f"automatic mail ({ctx.automated_reason})"
    address = reply_to(ctx)
    if address is None:
        if ctx.parsed.return_path is None and not conf.AUTORESPONSE_FROM_FALLBACK:
            # Row A13: never the From, Reply-To or Sender instead.
            return "no Return-Path: nowhere to answer"
        return "no usable Return-Path"
    if "system_addresses" not in ctx.cache:
        # Row A22: every system mailbox's address and aliases (two mailboxes, or a mailbox
        # and another's alias, must never answer each other).
        ctx.cache["system_addresses"] = set().union(
            *(mailbox.own_addresses() for mailbox in Mailbox.objects.only("email", "aliases"))
        )
    if address.strip().lower() in ctx.cache["system_addresses"]:
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


def note_bounce(ctx: Context) -> str | None:
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


@dataclass(frozen=True)
class _Cap:
    """An hourly limit on answers: of one mailbox, or of all mailboxes together (``site``)."""

    site: bool
    limit: int
    setting: str
    alert: str

    def counted(self, ctx: Context) -> int | None:
        """The key of this cap's count in the batch's cache."""
        return None if self.site else ctx.mailbox.pk

    def reason(self) -> str:
        if self.site:
            return (
                f"the limit of {self.limit} answers an hour for all mailboxes together is reached"
            )
        return f"the mailbox's limit of {self.limit} answers an hour is reached"

    def alert_text(self, ctx: Context) -> str:
        whose = "all mailboxes together sent" if self.site else "sent"
        return (
            f"{ctx.mailbox.label}: {whose} {self.limit} automatic answers in the last hour, the "
            f"most {self.setting} allows; further mail is not answered until the hour's count "
            "falls below it (a flood of mail, or forged senders?)"
        )


def _caps() -> tuple[_Cap, _Cap]:
    return (
        _Cap(
            False, conf.AUTORESPONSE_MAX_PER_HOUR, "MAILROOM_AUTORESPONSE_MAX_PER_HOUR", CAP_ALERT
        ),
        _Cap(
            True,
            conf.AUTORESPONSE_MAX_PER_HOUR_ALL,
            "MAILROOM_AUTORESPONSE_MAX_PER_HOUR_ALL",
            SITE_CAP_ALERT,
        ),
    )


def _cap_reached(ctx: Context, *, alert: bool) -> str | None:
    """Why no more answers may go out of this mailbox this hour (its own cap, or the cap of
    all mailboxes together), or None.

    Each count of the last 60 minutes is read once per batch and counted up with each claim.
    Reaching a cap raises one alert on the mailbox, kept open while the cap holds; the first
    answer let through again resolves it, so that the next time the cap trips it alerts again.
    """
    counts: dict[int | None, int] = ctx.cache.setdefault("answers_last_hour", {})
    alerted: set[tuple[int, str]] = ctx.cache.setdefault("cap_alerted", set())
    resolved: set[tuple[int, str]] = ctx.cache.setdefault("cap_resolved", set())
    pk = ctx.mailbox.pk
    since = timezone.now() - timedelta(hours=1)
    for cap in _caps():
        key = cap.counted(ctx)
        if key not in counts:
            counts[key] = AnswerRecord.objects.answered_since(
                None if cap.site else ctx.mailbox, since
            )
        if counts[key] >= cap.limit:
            if alert and (pk, cap.alert) not in alerted:
                raise_alert(pk, cap.alert, cap.alert_text(ctx))
                alerted.add((pk, cap.alert))
            return cap.reason()
    # Once per batch and mailbox: answering is possible again, so open alerts are resolved.
    if alert and pk not in {mailbox for mailbox, _ in resolved}:
        for cap in _caps():
            resolve_alert(pk, cap.alert)
            resolved.add((pk, cap.alert))
            alerted.discard((pk, cap.alert))
    return None


def _count_answer(ctx: Context) -> None:
    """One more answer claimed in this batch, for both caps."""
    counts: dict[int | None, int] = ctx.cache["answers_last_hour"]
    for cap in _caps():
        counts[cap.counted(ctx)] += 1


def unaddressed(ctx: Context, rule: AutoResponseRule) -> str | None:
    """Why ``rule`` may not answer mail that does not name the mailbox (A29), or None."""
    if rule.answer_unaddressed or names_recipient(ctx.parsed, ctx.mailbox.own_addresses()):
        return None
    return (
        f"not addressed to {ctx.mailbox.email} or an alias of it (a Bcc copy or a catch-all; "
        "the rule does not answer such mail)"
    )


def answer_refusal(ctx: Context, rule: AutoResponseRule, address: str) -> str | None:
    """Why ``rule`` may not answer ``address`` now (not addressed, the cap, the window), or
    None. Reads only: what :func:`claim_answer` would refuse, for a dry run."""
    refusal = unaddressed(ctx, rule)
    if refusal:
        return refusal
    capped = _cap_reached(ctx, alert=False)
    if capped:
        return f"reply suppressed: {capped}"
    days = conf.AUTORESPONSE_WINDOW_DAYS
    if AnswerRecord.objects.answered(
        rule=rule, address=address, now=timezone.now(), window=timedelta(days=days)
    ):
        return f"already answered {address} within {days} days"
    return None


def claim_answer(ctx: Context, rule: AutoResponseRule, address: str) -> str | None:
    """Claim the answer to ``address`` for ``rule``; return why not, or None when claimed.

    Reaching the cap raises its alert. Call it in the transaction that queues the answer.
    """
    refusal = unaddressed(ctx, rule)
    if refusal:
        return refusal
    capped = _cap_reached(ctx, alert=True)
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
    _count_answer(ctx)
    return None
