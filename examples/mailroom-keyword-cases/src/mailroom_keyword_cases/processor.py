"""Processor "keyword-case": a Case for a new conversation that mentions a keyword."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from django import forms

from mailroom.models import Case, CasePriority
from mailroom.plugins import (
    Action,
    Context,
    Processor,
    ProcessorResult,
    ProcessorSettings,
    create_case_from_message,
    user_field,
)


def keywords(text: str) -> list[str]:
    """The comma-separated keywords of ``text``, trimmed, without empty ones."""
    return [word.strip() for word in text.split(",") if word.strip()]


class KeywordCaseSettings(ProcessorSettings):
    """The processor's settings: shown in the mailbox form under "Email processing", checked
    the same way for the CLI and ``config import``."""

    keywords = forms.CharField(
        max_length=500,
        help_text="Comma-separated, e.g. “outage, down, refund”. Case does not matter.",
    )
    priority = forms.ChoiceField(
        choices=CasePriority.choices, initial=CasePriority.HIGH, label="Case priority"
    )
    owner = user_field("Owner", "Owner of the Cases created.")

    def clean_keywords(self) -> str:
        words = keywords(self.cleaned_data["keywords"])
        if not words:
            raise forms.ValidationError("Enter at least one keyword.")
        short = [word for word in words if len(word) < 3]
        if short:
            raise forms.ValidationError(f"Keywords need 3 characters or more: {', '.join(short)}.")
        return ", ".join(words)


class KeywordCaseProcessor(Processor):
    """A Case for a new conversation whose subject or text mentions a keyword; a reply joins
    its conversation's Case; automatic mail and other mail create nothing."""

    kind: ClassVar[str] = "keyword-case"
    label: ClassVar[str] = "Convert to Case when a keyword is mentioned"
    settings_form = KeywordCaseSettings

    def process(self, ctx: Context, settings: dict[str, Any]) -> ProcessorResult:
        conversation = ctx.conversation
        existing = Case.objects.filter(conversation=conversation).first() if conversation else None
        if existing is not None:
            return ProcessorResult(Action.JOINED, case=existing)
        if ctx.automated_reason:
            return ProcessorResult.nothing(f"no case: automatic mail ({ctx.automated_reason})")
        text = f"{ctx.parsed.subject}\n{ctx.parsed.text_body}"
        found = next(
            (
                word
                for word in keywords(str(settings.get("keywords", "")))
                if re.search(rf"\b{re.escape(word)}\b", text, re.IGNORECASE)
            ),
            None,
        )
        if found is None:
            return ProcessorResult.nothing("no case: no keyword mentioned")
        form = KeywordCaseSettings(data=settings, current=settings)
        owner = form.cleaned_data.get("owner") if form.is_valid() else None
        priority = str(settings.get("priority") or CasePriority.HIGH)
        case = create_case_from_message(
            ctx.message,
            ctx.parsed,
            owner=owner,
            assignee=None,
            priority=priority if priority in CasePriority.values else CasePriority.HIGH,
            conversation=conversation,
            contact=ctx.contact,
        )
        return ProcessorResult(Action.CREATED, case=case, reason=f"mentions “{found}”")
