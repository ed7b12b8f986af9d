"""Processor "lead": a Lead for each new conversation written by a person."""

from __future__ import annotations

from typing import Any, ClassVar

from mailroom.crm.actions import create_lead_from_message
from mailroom.crm.settings import lead_settings_errors, resolve_lead_settings
from mailroom.models import Lead
from mailroom.pipeline.base import Context
from mailroom.pipeline.processors.base import Action, Processor, ProcessorResult


class CreateLeadProcessor(Processor):
    """Creates a Lead named after the sender, with the configured owner and source; a reply
    joins the conversation's Lead; automatic mail never creates one."""

    kind: ClassVar[str] = "lead"
    label: ClassVar[str] = "Convert to Lead"

    def process(self, ctx: Context, settings: dict[str, Any]) -> ProcessorResult:
        conversation = ctx.conversation
        existing = Lead.objects.filter(conversation=conversation).first() if conversation else None
        if existing is not None:
            return ProcessorResult(Action.JOINED, lead=existing)
        if ctx.automated_reason:
            kind = ctx.automated_kind or "automatic mail"
            return ProcessorResult.nothing(f"not converted: {kind} ({ctx.automated_reason})")
        owner, source, channel = resolve_lead_settings(settings)
        if channel is None:
            return ProcessorResult.nothing("not converted: no active sales channel")
        lead = create_lead_from_message(
            ctx.message,
            ctx.parsed,
            owner=owner,
            source=source,
            channel=channel,
            conversation=conversation,
            contact=ctx.contact,
        )
        return ProcessorResult(Action.CREATED, lead=lead)

    def validate_settings(self, settings: dict[str, Any]) -> dict[str, str]:
        return lead_settings_errors(settings)
