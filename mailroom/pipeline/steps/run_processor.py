"""Step: hand the message to the mailbox's processor (nothing, Lead, Case or a plug-in)."""

from __future__ import annotations

from typing import ClassVar

from mailroom.pipeline.base import Context, Stop
from mailroom.pipeline.processors.registry import load_processor


class RunProcessor:
    """Run the processor chosen on the mailbox; what it creates goes into the audit record."""

    name: ClassVar[str] = "run_processor"
    description: ClassVar[str] = "Run the mailbox's email processor"

    def run(self, ctx: Context) -> str | Stop:
        processor = load_processor(ctx.mailbox.processor_kind)
        note = processor.process(ctx, ctx.mailbox.processor_settings or {})
        if note:
            ctx.created.append(note)
        return note or "kept in mailbox"
