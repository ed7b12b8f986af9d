"""Step: find out whether the message is automatic mail that must never be answered."""

from __future__ import annotations

from typing import Any, ClassVar

from mailroom.mime.autoreply import automated_reason
from mailroom.models import Message
from mailroom.pipeline.base import Context, Stop
from mailroom.store.parsed import parsed_from_row


class Classify:
    """Mark bounces, auto-replies, list and bulk mail so that no step answers them."""

    name: ClassVar[str] = "classify"
    description: ClassVar[str] = "Detect automatic mail (RFC 3834, lists, bounces)"

    @staticmethod
    def prepare(messages: list[Message], cache: dict[str, Any]) -> None:
        """Before a batch: read each stored parse once and classify it, so that the steps
        preparing after this one (threading starts conversations marked with what kind of
        automatic mail began them) know it too."""
        parsed = cache.setdefault("parsed", {})
        automated = cache.setdefault("automated", {})
        for message in messages:
            parsed[message.pk] = parsed_from_row(message)
            automated[message.pk] = automated_reason(parsed[message.pk])

    def run(self, ctx: Context) -> str | Stop:
        known: dict[int, str | None] = ctx.cache.get("automated", {})
        pk = ctx.message.pk
        if pk in known:
            ctx.automated_reason = known[pk]
        else:
            ctx.automated_reason = automated_reason(ctx.parsed)
        return (
            f"automatic: {ctx.automated_reason}" if ctx.automated_reason else "written by a person"
        )
