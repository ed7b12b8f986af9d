"""Processor "lead": a new Lead for each incoming message."""

from __future__ import annotations

from typing import Any, ClassVar

from mailroom.crm.actions import create_lead_from_message
from mailroom.crm.settings import lead_settings_errors, resolve_lead_settings
from mailroom.pipeline.base import Context
from mailroom.pipeline.processors.base import Processor


class CreateLeadProcessor(Processor):
    """Creates a Lead named after the sender, with the configured owner and source."""

    kind: ClassVar[str] = "lead"
    label: ClassVar[str] = "Convert to Lead"

    def process(self, ctx: Context, settings: dict[str, Any]) -> str:
        owner, source, channel = resolve_lead_settings(settings)
        lead = create_lead_from_message(
            ctx.message, ctx.parsed, owner=owner, source=source, channel=channel
        )
        return f"lead {lead.pk} created"

    def validate_settings(self, settings: dict[str, Any]) -> dict[str, str]:
        return lead_settings_errors(settings)
