"""Step: find out whether the message is automatic mail that must never be answered."""

from __future__ import annotations

from typing import ClassVar

from mailroom.mime.autoreply import automated_reason
from mailroom.pipeline.base import Context, Stop


class Classify:
    """Mark bounces, auto-replies, list and bulk mail so that no step answers them."""

    name: ClassVar[str] = "classify"
    description: ClassVar[str] = "Detect automatic mail (RFC 3834, lists, bounces)"

    def run(self, ctx: Context) -> str | Stop:
        ctx.automated_reason = automated_reason(ctx.parsed)
        return (
            f"automatic: {ctx.automated_reason}" if ctx.automated_reason else "written by a person"
        )
