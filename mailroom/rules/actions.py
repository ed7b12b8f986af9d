"""Named actions on a rule's response: write it inline, pick a library template, and "save
response as email template" (the seed's checkbox). Callers validate first; these assume
valid input and are atomic."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction

from mailroom.models import AutoResponseRule, EmailTemplate, EmailTemplateTranslation


class TemplateNameTaken(ValueError):
    """A library template already has this name."""


@dataclass(frozen=True)
class ResponseText:
    """A response's subject and body in one language."""

    language: str
    subject: str
    body: str


@transaction.atomic
def create_inline_response(
    name: str, *, type: str, default_language: str, texts: Iterable[ResponseText]
) -> EmailTemplate:
    """A new inline response (outside the library), to be given to one rule as its
    ``template``; ``name`` is the rule's name by convention."""
    template = EmailTemplate.objects.create(
        name=name, type=type, default_language=default_language, in_library=False
    )
    EmailTemplateTranslation.objects.bulk_create(
        EmailTemplateTranslation(
            template=template, language=t.language, subject=t.subject, body=t.body
        )
        for t in texts
    )
    return template


@transaction.atomic
def set_response(rule: AutoResponseRule, template: EmailTemplate) -> None:
    """Make ``template`` (a library template, or a new inline response for this rule) what
    the rule sends; the rule's previous inline response, if any, is deleted."""
    previous = EmailTemplate.objects.get(pk=rule.template_id)
    rule.template = template
    rule.save(update_fields=["template"])
    if previous.pk != template.pk and not previous.in_library:
        previous.delete()


@transaction.atomic
def save_as_template(rule: AutoResponseRule, name: str) -> EmailTemplate:
    """Put the rule's inline response into the library under ``name``; the rule keeps
    sending it, now as a library template that other rules may pick too. Raise
    :class:`TemplateNameTaken` if a library template has that name, ValueError if the rule
    already sends a library template."""
    template = EmailTemplate.objects.select_for_update().get(pk=rule.template_id)
    if template.in_library:
        raise ValueError(f"the rule already sends the library template {template.name!r}")
    if EmailTemplate.objects.filter(in_library=True, name=name).exists():
        raise TemplateNameTaken(f"a template named {name!r} exists already")
    template.name = name
    template.in_library = True
    template.save(update_fields=["name", "in_library"])
    rule.template = template
    return template


def response_errors(rule: AutoResponseRule | None, template: EmailTemplate) -> str | None:
    """Why ``rule`` (None: a new rule) may not send ``template``, or None: an inline
    response belongs to the one rule that has it."""
    if template.in_library:
        return None
    owners = AutoResponseRule.objects.filter(template=template)
    if rule is not None and rule.pk is not None:
        owners = owners.exclude(pk=rule.pk)
    return "this response belongs to another rule" if owners.exists() else None
