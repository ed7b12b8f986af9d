"""Processor "none": the message stays in the mailbox for people with access to read."""

from __future__ import annotations

from typing import Any, ClassVar

from mailroom.pipeline.base import Context
from mailroom.pipeline.processors.base import Processor, ProcessorResult


class KeepProcessor(Processor):
    """Creates nothing; the stored message (in its conversation) is all there is."""

    kind: ClassVar[str] = "none"
    label: ClassVar[str] = "Do nothing (keep in mailbox)"

    def process(self, ctx: Context, settings: dict[str, Any]) -> ProcessorResult:
        return ProcessorResult.nothing("kept in mailbox")
