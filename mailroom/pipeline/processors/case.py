"""Processor "case": a Case for each new conversation; replies join it."""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms

from mailroom.conversations.actions import put_in_conversation, start_conversation
from mailroom.crm.actions import create_case_from_message, reopen_case
from mailroom.crm.settings import (
    CLOSED_CASE_CHOICES,
    CLOSED_CASE_NEW,
    CLOSED_CASE_REOPEN,
    case_settings_errors,
    readers_only,
    resolve_case_options,
    resolve_case_settings,
)
from mailroom.models import Case, CasePriority, CaseStatus
from mailroom.pipeline.base import Context
from mailroom.pipeline.processors.base import Action, Processor, ProcessorResult
from mailroom.pipeline.processors.settings import ProcessorSettings, user_field

# A reply to a Case in one of these states reopens it or starts a new one.
CLOSED_STATES = frozenset({CaseStatus.RESOLVED, CaseStatus.CLOSED})


class CaseSettings(ProcessorSettings):
    """Owner, assignee and priority of the Cases created; what a reply to a closed Case does;
    whether automatic mail creates Cases."""

    owner = user_field("Owner", "Owner of the Cases created.")
    assignee = user_field("Assignee", "Who the Cases created are assigned to.")
    priority = forms.ChoiceField(
        choices=CasePriority.choices, initial="normal", required=False, label="Case priority"
    )
    closed_case_replies = forms.ChoiceField(
        choices=CLOSED_CASE_CHOICES,
        initial=CLOSED_CASE_REOPEN,
        required=False,
        label="A reply to a closed Case",
    )
    automatic_cases = forms.BooleanField(
        required=False,
        label="Create Cases for automatic mail too",
        help_text="Bounces, auto-replies, list mail. Otherwise such mail is stored and marked, "
        "and joins the Case it reports on.",
    )

    def to_settings(self) -> dict[str, Any]:
        settings = super().to_settings()
        settings["priority"] = settings.get("priority") or CasePriority.NORMAL
        settings["closed_case_replies"] = settings.get("closed_case_replies") or CLOSED_CASE_REOPEN
        settings["automatic_cases"] = bool(settings.get("automatic_cases"))
        return settings

    @classmethod
    def initial_from(cls, settings: dict[str, Any]) -> dict[str, Any]:
        closed, automatic = resolve_case_options(settings)
        return {
            **super().initial_from(settings),
            "priority": settings.get("priority", CasePriority.NORMAL),
            "closed_case_replies": closed,
            "automatic_cases": automatic,
        }


class CreateCaseProcessor(Processor):
    """Creates a Case from the subject and text of the message, owned by the configured user.

    A reply joins the conversation's Case; a reply to a closed Case reopens it, or (setting
    ``closed_case_replies=new_case``) starts a new conversation with a new Case. Automatic
    mail creates no Case unless ``automatic_cases`` is on; it joins the Case of the
    conversation it reports on but never reopens it."""

    kind: ClassVar[str] = "case"
    label: ClassVar[str] = "Convert to Case"
    settings_form = CaseSettings

    def process(self, ctx: Context, settings: dict[str, Any]) -> ProcessorResult:
        closed_replies, automatic_cases = resolve_case_options(settings)
        conversation = ctx.conversation
        existing = Case.objects.filter(conversation=conversation).first() if conversation else None
        if existing is not None:
            ctx.case_number = existing.number
            if ctx.automated_reason or existing.status not in CLOSED_STATES:
                return ProcessorResult(Action.JOINED, case=existing)
            if closed_replies != CLOSED_CASE_NEW:
                reopen_case(existing)
                return ProcessorResult(Action.REOPENED, case=existing)
            assert conversation is not None
            # A new Case needs a conversation of its own (one Case per conversation).
            conversation = start_conversation(
                ctx.mailbox, ctx.parsed.subject, ctx.contact, follows=conversation
            )
            put_in_conversation(ctx.message, conversation, ctx.contact)
            ctx.conversation = conversation
            case, unassigned = self._create(ctx, settings)
            reasons = [f"case #{existing.number} was closed", unassigned]
            return ProcessorResult(
                Action.CREATED, case=case, reason="; ".join(r for r in reasons if r)
            )
        if ctx.automated_reason and not automatic_cases:
            kind = ctx.automated_kind or "automatic mail"
            return ProcessorResult.nothing(f"no case: {kind} ({ctx.automated_reason})")
        case, unassigned = self._create(ctx, settings)
        return ProcessorResult(Action.CREATED, case=case, reason=unassigned)

    def _create(self, ctx: Context, settings: dict[str, Any]) -> tuple[Case, str]:
        """The new Case, and who was left unassigned for not reading the mailbox, if anyone."""
        owner, assignee, priority = resolve_case_settings(settings)
        people, unassigned = readers_only(ctx.mailbox, owner=owner, assignee=assignee)
        case = create_case_from_message(
            ctx.message,
            ctx.parsed,
            owner=people["owner"],
            assignee=people["assignee"],
            priority=priority,
            conversation=ctx.conversation,
            contact=ctx.contact,
        )
        ctx.case_number = case.number
        return case, unassigned

    def validate_settings(self, settings: dict[str, Any]) -> dict[str, str]:
        return case_settings_errors(settings)
