"""Run the declared pipeline over stored messages, exactly once each, keeping an audit record.

Messages are processed in batches: one transaction per batch, a savepoint per message. Either
every effect of processing one message (a Lead, a Case, an outbox row, its record marked done)
is committed, or none is and that message alone is retried; the others of the batch go on.
Processing reads the columns stored with the message, not its raw bytes: it never parses twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from mailroom import metrics
from mailroom.models import Message, ProcessingRecord, ProcessingState
from mailroom.pipeline.base import Context, StepError, Stop
from mailroom.pipeline.pipelines import HISTORY, HISTORY_CONVERTED, INBOUND, STEPS
from mailroom.store.parsed import parsed_from_row
from mailroom.store.rows import update_rows

logger = logging.getLogger(__name__)

# After this many failed attempts a message is left failed until someone reprocesses it.
MAX_ATTEMPTS = 3

# Messages per transaction.
BATCH = 200


def pipeline_for(message: Message) -> tuple[str, ...]:
    """History (mail older than the account) is stored and classified, converted only if the
    administrator chose so, and never answered."""
    if message.is_history:
        return HISTORY_CONVERTED if message.mailbox.history_convert else HISTORY
    return INBOUND


def _run(
    record: ProcessingRecord, message: Message, pipeline: tuple[str, ...], cache: dict[str, Any]
) -> None:
    ctx = Context(
        message=message,
        mailbox=message.mailbox,
        parsed=parsed_from_row(message),
        record=record,
        cache=cache,
    )
    record.steps = []
    for name in pipeline:
        result = STEPS[name]().run(ctx)
        if isinstance(result, Stop):
            record.steps.append({"step": name, "outcome": "stop", "detail": result.reason})
            record.outcome = result.reason[:300]
            break
        record.steps.append({"step": name, "outcome": "ok", "detail": result})
    else:
        record.outcome = ("; ".join(ctx.created) or "processed")[:300]
    record.automated_reason = (ctx.automated_reason or "")[:300]
    record.conversation = ctx.conversation
    record.lead = ctx.lead
    record.case = ctx.case
    record.state = ProcessingState.DONE
    record.error = ""
    record.processed_at = timezone.now()


def _process_batch(
    message_ids: list[int], pipeline: tuple[str, ...] | None
) -> dict[int, ProcessingState]:
    states: dict[int, ProcessingState] = {}
    cache: dict[str, Any] = {}
    with transaction.atomic():
        records = list(
            ProcessingRecord.objects.select_for_update()
            .filter(message_id__in=message_ids)
            .order_by("message_id")
        )
        pending = [r for r in records if r.state == ProcessingState.PENDING]
        for record in records:
            states[record.message_id] = ProcessingState(record.state)
        messages = Message.objects.select_related("mailbox").prefetch_related("attachments")
        by_id = {m.pk: m for m in messages.filter(pk__in=[r.message_id for r in pending])}
        _prepare(list(by_id.values()), pipeline, cache)
        for record in pending:
            message = by_id[record.message_id]
            record.attempts += 1
            try:
                with transaction.atomic():
                    _run(record, message, pipeline or pipeline_for(message), cache)
            except Exception as exc:
                permanent = isinstance(exc, StepError) and exc.permanent
                logger.exception("processing message %s failed", record.message_id)
                record.steps = []
                # What the failed attempt created was rolled back with it.
                record.conversation = record.lead = record.case = None
                record.error = f"{type(exc).__name__}: {exc}"
                if permanent or record.attempts >= MAX_ATTEMPTS:
                    record.state = ProcessingState.FAILED
            states[record.message_id] = ProcessingState(record.state)
        update_rows(pending, _RECORD_FIELDS)
    for record in pending:  # counted once committed
        metrics.PROCESSED.labels(record.state).inc()
    return states


def _prepare(
    messages: list[Message], pipeline: tuple[str, ...] | None, cache: dict[str, Any]
) -> None:
    """Let each step that will run over the batch load what it needs for all its messages at
    once (a step's optional ``prepare(messages, cache)``)."""
    names = {name for m in messages for name in (pipeline or pipeline_for(m))}
    for name in sorted(names):
        prepare = getattr(STEPS[name], "prepare", None)
        if prepare is not None:
            prepare(messages, cache)


_RECORD_FIELDS = (
    "steps",
    "outcome",
    "automated_reason",
    "rule_hits",
    "rule_misses",
    "state",
    "attempts",
    "error",
    "processed_at",
    "conversation",
    "lead",
    "case",
)


def process_messages(
    message_ids: Iterable[int], pipeline: tuple[str, ...] | None = None
) -> dict[int, ProcessingState]:
    """Process every pending message among ``message_ids``; return each one's state after.

    A message processed already (or failed for good) is left as it is: running this twice, or
    in two processes at once, processes each message once.
    """
    ids = sorted(set(message_ids))
    states: dict[int, ProcessingState] = {}
    for start in range(0, len(ids), BATCH):
        states.update(_process_batch(ids[start : start + BATCH], pipeline))
    return states


def process_message(message_id: int, pipeline: tuple[str, ...] = INBOUND) -> ProcessingState:
    """Process one message unless it already was; return the record's state afterwards."""
    return process_messages([message_id], pipeline)[message_id]


def pending_message_ids(mailbox_id: int | None = None, limit: int | None = None) -> list[int]:
    """Messages stored but not yet processed, oldest first."""
    pending = ProcessingRecord.objects.filter(state=ProcessingState.PENDING)
    if mailbox_id is not None:
        pending = pending.filter(message__mailbox_id=mailbox_id)
    ids = pending.order_by("message_id").values_list("message_id", flat=True)
    return list(ids[:limit] if limit is not None else ids)
