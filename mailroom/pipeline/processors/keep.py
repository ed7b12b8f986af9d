"""Processor "none": the message stays in the mailbox for people with access to read."""

from __future__ import annotations

from typing import Any, ClassVar

from mailroom.pipeline.base import Context
from mailroom.pipeline.processors.base import Processor


class KeepProcessor(Processor):
    """Creates nothing; the stored message is all there is."""

    kind: ClassVar[str] = "none"
    label: ClassVar[str] = "Do nothing (keep in mailbox)"

    def process(self, ctx: Context, settings: dict[str, Any]) -> str:
        return ""
