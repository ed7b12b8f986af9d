"""Run a pipeline over one stored message, exactly once, keeping an audit record.

The steps and the record run in one transaction: either every effect of processing (a Lead, a
Case, an outbox row, the record marked done) is committed, or none is and the message stays
pending for the next attempt.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from mailroom.mime.parse import parse_message
from mailroom.models import Message, ProcessingRecord, ProcessingState
from mailroom.pipeline.base import Context, StepError, Stop
from mailroom.pipeline.pipelines import INBOUND, STEPS
from mailroom.store.recent import take

logger = logging.getLogger(__name__)

# After this many failed attempts a message is left failed until someone reprocesses it.
MAX_ATTEMPTS = 3


def process_message(message_id: int, pipeline: tuple[str, ...] = INBOUND) -> ProcessingState:
    """Process the message unless it already was; return the record's state afterwards."""
    try:
        with transaction.atomic():
            record = ProcessingRecord.objects.select_for_update().get(message_id=message_id)
            if record.state != ProcessingState.PENDING:
                return ProcessingState(record.state)
            message = Message.objects.select_related("mailbox").get(pk=message_id)
            ctx = Context(
                message=message,
                mailbox=message.mailbox,
                parsed=take(message_id) or parse_message(message.read_raw()),
                record=record,
            )
            record.steps = []
            for name in pipeline:
                result = STEPS[name]().run(ctx)
                if isinstance(result, Stop):
                    record.steps.append({"step": name, "outcome": "stop", "detail": result.reason})
                    record.outcome = result.reason
                    break
                record.steps.append({"step": name, "outcome": "ok", "detail": result})
            else:
                record.outcome = "; ".join(ctx.created) or "processed"
            record.automated_reason = ctx.automated_reason or ""
            record.state = ProcessingState.DONE
            record.attempts += 1
            record.error = ""
            record.processed_at = timezone.now()
            record.save()
            logger.debug("message %s processed: %s", message_id, record.outcome)
            return ProcessingState.DONE
    except Exception as exc:
        permanent = isinstance(exc, StepError) and exc.permanent
        logger.exception("processing message %s failed", message_id)
        record = ProcessingRecord.objects.get(message_id=message_id)
        record.attempts += 1
        record.error = f"{type(exc).__name__}: {exc}"
        if permanent or record.attempts >= MAX_ATTEMPTS:
            record.state = ProcessingState.FAILED
        record.save(update_fields=["attempts", "error", "state"])
        return ProcessingState(record.state)
