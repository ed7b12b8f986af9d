"""Run the declared pipeline over stored messages, exactly once each, keeping an audit record.

Messages are processed in batches: one transaction per batch, a savepoint per message. Either
every effect of processing one message (a Lead, a Case, an outbox row, its record marked done)
is committed, or none is and that message alone is retried; the others of the batch go on.
Processing reads the columns stored with the message, not its raw bytes: it never parses twice.

A failed attempt is never silent: the record keeps the steps that completed (marked rolled back,
since the savepoint undid what they wrote), the step that failed with its error, and when the
next attempt is due (:func:`backoff`). Until then neither a task nor the sweep runs it again.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from mailroom import metrics
from mailroom.models import Mailbox, Message, ProcessingRecord, ProcessingState
from mailroom.pipeline.base import Context, StepError, Stop
from mailroom.pipeline.pipelines import HISTORY, HISTORY_CONVERTED, INBOUND, STEPS
from mailroom.store.parsed import parsed_from_row
from mailroom.store.rows import update_rows

logger = logging.getLogger(__name__)

# After this many failed attempts a message is left failed until someone reprocesses it.
MAX_ATTEMPTS = 3

# The wait after the first failed attempt; each further failure waits four times longer, up to
# BACKOFF_CAP.
BACKOFF_FIRST = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=1)

# Messages per transaction.
BATCH = 200


def pipeline_for(message: Message) -> tuple[str, ...]:
    """History (mail older than the account) is stored and classified, converted only if the
    administrator chose so, and never answered."""
    if message.is_history:
        return HISTORY_CONVERTED if message.mailbox.history_convert else HISTORY
    return INBOUND


def backoff(attempts: int) -> timedelta:
    """How long a message waits after its ``attempts``-th failed attempt before the next one.

    Exponential: 1, 4, 16, 64 … minutes (BACKOFF_FIRST times 4 per earlier failure), capped at
    BACKOFF_CAP, then stretched by up to a quarter at random so that the messages of a batch
    that failed together (a database or processor outage) are not all retried in the same
    second. Never shorter than the nominal delay.
    """
    factor: int = 4 ** max(attempts - 1, 0)
    nominal = min(BACKOFF_FIRST * factor, BACKOFF_CAP)
    return nominal * random.uniform(1.0, 1.25)  # noqa: S311 (not for secrets)


@dataclass
class _Progress:
    """What an attempt did so far, kept outside its savepoint: the entries of the steps that
    completed, and the step running (the one that failed, if the attempt raised)."""

    steps: list[dict[str, Any]] = field(default_factory=list)
    running: str | None = None


def _run(
    record: ProcessingRecord,
    message: Message,
    pipeline: tuple[str, ...],
    cache: dict[str, Any],
    progress: _Progress,
) -> None:
    ctx = Context(
        message=message,
        mailbox=message.mailbox,
        # A step's prepare may have read the stored parse already (the batch's "parsed").
        parsed=cache.get("parsed", {}).get(message.pk) or parsed_from_row(message),
        record=record,
        cache=cache,
    )
    # Rules a step evaluates are noted on the record by that step; none from an earlier run.
    record.rule_hits, record.rule_misses = [], []
    for name in pipeline:
        progress.running = name
        result = STEPS[name]().run(ctx)
        progress.running = None
        if isinstance(result, Stop):
            progress.steps.append({"step": name, "outcome": "stop", "detail": result.reason})
            record.outcome = result.reason[:300]
            break
        progress.steps.append({"step": name, "outcome": "ok", "detail": result})
    else:
        record.outcome = ("; ".join(ctx.created) or "processed")[:300]
    record.steps = progress.steps
    record.automated_reason = (ctx.automated_reason or "")[:300]
    record.conversation = ctx.conversation
    record.lead = ctx.lead
    record.case = ctx.case
    record.state = ProcessingState.DONE
    record.error = ""
    record.retry_at = None
    record.processed_at = timezone.now()


def _failed(record: ProcessingRecord, progress: _Progress, exc: Exception) -> None:
    """Note a failed attempt on ``record``: what ran and was rolled back, the error, and when
    (or whether) the next attempt is due."""
    error = f"{type(exc).__name__}: {exc}"
    record.steps = [{**entry, "rolled_back": True} for entry in progress.steps]
    if progress.running is not None:
        record.steps.append({"step": progress.running, "outcome": "error", "detail": error})
    record.outcome = ""
    # What the failed attempt created, or the rules it evaluated, went with its savepoint.
    record.conversation = record.lead = record.case = None
    record.rule_hits, record.rule_misses = [], []
    record.error = error
    permanent = isinstance(exc, StepError) and exc.permanent
    if permanent or record.attempts >= MAX_ATTEMPTS:
        record.state = ProcessingState.FAILED
        record.retry_at = None
    else:
        record.retry_at = timezone.now() + backoff(record.attempts)


def _due(record: ProcessingRecord, now: datetime) -> bool:
    return record.state == ProcessingState.PENDING and (
        record.retry_at is None or record.retry_at <= now
    )


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
        # A record waiting out its backoff is not due, even if a task names it.
        now = timezone.now()
        pending = [r for r in records if _due(r, now)]
        for record in records:
            states[record.message_id] = ProcessingState(record.state)
        messages = Message.objects.prefetch_related("attachments")
        by_id = {m.pk: m for m in messages.filter(pk__in=[r.message_id for r in pending])}
        # One Mailbox object per mailbox of the batch, not one per message.
        mailboxes = Mailbox.objects.in_bulk({m.mailbox_id for m in by_id.values()})
        for message in by_id.values():
            message.mailbox = mailboxes[message.mailbox_id]
        _prepare(list(by_id.values()), pipeline, cache)
        for record in pending:
            message = by_id[record.message_id]
            record.attempts += 1
            progress = _Progress()
            try:
                with transaction.atomic():
                    _run(record, message, pipeline or pipeline_for(message), cache, progress)
            except Exception as exc:
                logger.exception(
                    "processing message %s failed in step %s", record.message_id, progress.running
                )
                _failed(record, progress, exc)
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
    # In pipeline order: a step's prepare may use what an earlier one's found.
    names = dict.fromkeys(name for m in messages for name in (pipeline or pipeline_for(m)))
    for name in names:
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
    "retry_at",
    "conversation",
    "lead",
    "case",
)


def process_messages(
    message_ids: Iterable[int], pipeline: tuple[str, ...] | None = None
) -> dict[int, ProcessingState]:
    """Process every pending message among ``message_ids``; return each one's state after.

    A message processed already (or failed for good) is left as it is: running this twice, or
    in two processes at once, processes each message once. One waiting out the backoff of a
    failed attempt is left for later too (the sweep enqueues it when it is due).
    """
    ids = sorted(set(message_ids))
    states: dict[int, ProcessingState] = {}
    for start in range(0, len(ids), BATCH):
        states.update(_process_batch(ids[start : start + BATCH], pipeline))
    return states


def process_message(message_id: int, pipeline: tuple[str, ...] = INBOUND) -> ProcessingState:
    """Process one message unless it already was; return the record's state afterwards."""
    return process_messages([message_id], pipeline)[message_id]


def due_records(now: datetime | None = None) -> QuerySet[ProcessingRecord]:
    """Records the pipeline still has to run and may run now: pending, and not waiting out the
    backoff of a failed attempt."""
    now = now or timezone.now()
    return ProcessingRecord.objects.filter(state=ProcessingState.PENDING).filter(
        Q(retry_at__isnull=True) | Q(retry_at__lte=now)
    )


def pending_message_ids(mailbox_id: int | None = None, limit: int | None = None) -> list[int]:
    """Messages stored but not yet processed and due now, oldest first."""
    pending = due_records()
    if mailbox_id is not None:
        pending = pending.filter(message__mailbox_id=mailbox_id)
    ids = pending.order_by("message_id").values_list("message_id", flat=True)
    return list(ids[:limit] if limit is not None else ids)


def reset_processing(message: Message) -> None:
    """Make ``message`` pending again with a clean slate of attempts, due at once, whatever
    became of its earlier processing (done, failed for good, or waiting for a retry).

    Its steps and links stay until the next run replaces them. Running the pipeline again is
    safe: the thread step finds the message's conversation, the processor joins the
    conversation's Lead or Case, and a rule answers a message at most once (one outbox row per
    message and rule).
    """
    ProcessingRecord.objects.update_or_create(
        message=message,
        defaults={
            "state": ProcessingState.PENDING,
            "attempts": 0,
            "retry_at": None,
            "error": "",
        },
    )
