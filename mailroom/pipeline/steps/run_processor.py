"""Step: hand the message to the mailbox's processor (nothing, Lead, Case or a plug-in)."""

from __future__ import annotations

from typing import ClassVar

from mailroom.pipeline.base import Context, Stop
from mailroom.pipeline.processors.base import Action, ProcessorError, ProcessorResult
from mailroom.pipeline.processors.registry import load_processor


class RunProcessor:
    """Run the processor chosen on the mailbox; what it created or joined, or why nothing,
    goes into the audit record."""

    name: ClassVar[str] = "run_processor"
    description: ClassVar[str] = "Run the mailbox's email processor"

    def run(self, ctx: Context) -> str | Stop:
        processor = load_processor(ctx.mailbox.processor_kind)
        result = processor.process(ctx, ctx.mailbox.processor_settings or {})
        if not isinstance(result, ProcessorResult):
            raise ProcessorError(
                f"processor {ctx.mailbox.processor_kind!r} returned {type(result).__name__}, "
                "not a ProcessorResult",
                permanent=True,
            )
        ctx.lead = result.lead or ctx.lead
        ctx.case = result.case or ctx.case
        if ctx.case is not None:
            ctx.case_number = ctx.case.number  # for the answer's placeholders
        note = result.describe()
        if result.action is not Action.NOTHING or ctx.mailbox.processor_kind != "none":
            ctx.created.append(note)
        return note
