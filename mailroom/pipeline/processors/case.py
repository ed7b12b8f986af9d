"""Processor "case": a new Case for each incoming message."""

from __future__ import annotations

from typing import Any, ClassVar

from mailroom.crm.actions import create_case_from_message
from mailroom.crm.settings import case_settings_errors, resolve_case_settings
from mailroom.pipeline.base import Context
from mailroom.pipeline.processors.base import Processor


class CreateCaseProcessor(Processor):
    """Creates a Case from the subject and text of the message, owned by the configured user."""

    kind: ClassVar[str] = "case"
    label: ClassVar[str] = "Convert to Case"

    def process(self, ctx: Context, settings: dict[str, Any]) -> str:
        owner, assignee, priority = resolve_case_settings(settings)
        case = create_case_from_message(
            ctx.message, ctx.parsed, owner=owner, assignee=assignee, priority=priority
        )
        ctx.case_number = case.number
        return f"case #{case.number} created"

    def validate_settings(self, settings: dict[str, Any]) -> dict[str, str]:
        return case_settings_errors(settings)
