"""Processor "lead": a Lead for each new conversation written by a person."""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms
from django.db.models import Q

from mailroom.crm.actions import create_lead_from_message
from mailroom.crm.settings import lead_settings_errors, readers_only, resolve_lead_settings
from mailroom.models import Lead, LeadSource
from mailroom.pipeline.base import Context
from mailroom.pipeline.processors.base import Action, Processor, ProcessorResult
from mailroom.pipeline.processors.settings import ProcessorSettings, user_field


class LeadSourceChoiceField(forms.ModelChoiceField[LeadSource]):
    """A Lead Source option by name; an inactive one (kept by a mailbox) says so."""

    def label_from_instance(self, obj: LeadSource) -> str:
        return obj.name if obj.active else f"{obj.name} (inactive)"


class LeadSettings(ProcessorSettings):
    """Owner and Source of the Leads created. The active Lead sources are offered, and the
    one the mailbox has even if it was deactivated since; a new mailbox starts with the
    default source."""

    owner = user_field("Owner", "Owner of the Leads created.")
    source = LeadSourceChoiceField(
        queryset=LeadSource.objects.filter(active=True),
        required=False,
        to_field_name="name",
        label="Lead source",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        source = self.fields["source"]
        assert isinstance(source, forms.ModelChoiceField)
        source.queryset = LeadSource.objects.filter(
            Q(active=True) | Q(name=self.current.get("source") or "")
        )
        if not self.is_bound and not self.current:
            default = LeadSource.objects.filter(is_default=True, active=True).first()
            if default is not None:
                self.initial.setdefault("source", default.name)


class CreateLeadProcessor(Processor):
    """Creates a Lead named after the sender, with the configured owner and source; a reply
    joins the conversation's Lead; automatic mail never creates one."""

    kind: ClassVar[str] = "lead"
    label: ClassVar[str] = "Convert to Lead"
    settings_form = LeadSettings

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
        people, unassigned = readers_only(ctx.mailbox, owner=owner)
        lead = create_lead_from_message(
            ctx.message,
            ctx.parsed,
            owner=people["owner"],
            source=source,
            channel=channel,
            conversation=conversation,
            contact=ctx.contact,
        )
        return ProcessorResult(Action.CREATED, lead=lead, reason=unassigned)

    def validate_settings(self, settings: dict[str, Any]) -> dict[str, str]:
        return lead_settings_errors(settings)
