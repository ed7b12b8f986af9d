"""Saving a rule from the editor: its settings, its conditions in order, and its response (a
library template, or one written in the rule), in one transaction. Callers validate first."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction

from mailroom.models import AutoResponseRule, EmailTemplate, Mailbox
from mailroom.models import RuleCondition as Condition
from mailroom.rules.actions import (
    ResponseText,
    create_inline_response,
    save_as_template,
    set_response,
)
from mailroom.rules.templates import replace_texts, stored_texts


@dataclass(frozen=True)
class InlineResponse:
    """A response written in the rule: its format, default language and texts."""

    type: str
    default_language: str
    texts: list[ResponseText]


@dataclass(frozen=True)
class RuleInput:
    """A rule as the editor (or any caller) describes it."""

    name: str
    active: bool
    position: int
    stop_after: bool
    case_sensitive: bool
    # (field, operator, value), in order; combined with AND.
    conditions: list[tuple[str, str, str]] = field(default_factory=list)
    # Exactly one of the two.
    template: EmailTemplate | None = None
    inline: InlineResponse | None = None
    # "Save response as email template": the library name for the inline response, or "".
    save_as: str = ""
    # Also answer mail that does not name the mailbox or an alias (autoresponder.md A29).
    answer_unaddressed: bool = False


def _write_inline(
    rule: AutoResponseRule | None, name: str, inline: InlineResponse
) -> EmailTemplate:
    """The rule's inline response with ``inline``'s texts (HTML sanitised): its own one updated
    in place, or a new one when it sends a library template (or is new)."""
    texts = stored_texts(inline.type, inline.texts)
    current = rule.template if rule is not None else None
    if current is None or current.in_library:
        return create_inline_response(
            name, type=inline.type, default_language=inline.default_language, texts=texts
        )
    current.name, current.type = name, inline.type
    current.default_language = inline.default_language
    current.save(update_fields=["name", "type", "default_language"])
    replace_texts(current, texts)
    return current


@transaction.atomic
def save_rule(mailbox: Mailbox, rule: AutoResponseRule | None, data: RuleInput) -> AutoResponseRule:
    """Create (``rule`` None) or update a rule of ``mailbox`` from ``data``."""
    if data.template is not None:
        response = data.template
    else:
        assert data.inline is not None
        response = _write_inline(rule, data.name, data.inline)
    values = {
        "name": data.name,
        "active": data.active,
        "position": data.position,
        "stop_after": data.stop_after,
        "answer_unaddressed": data.answer_unaddressed,
        "case_sensitive": data.case_sensitive,
    }
    if rule is None:
        rule = AutoResponseRule.objects.create(mailbox=mailbox, template=response, **values)
    else:
        for name, value in values.items():
            setattr(rule, name, value)
        rule.save(update_fields=list(values))
        if rule.template_id != response.pk:
            set_response(rule, response)
    rule.conditions.all().delete()
    Condition.objects.bulk_create(
        Condition(rule=rule, field=f, operator=op, value=value, position=i)
        for i, (f, op, value) in enumerate(data.conditions)
    )
    if data.save_as:
        save_as_template(rule, data.save_as)
    return rule


def next_position(mailbox: Mailbox) -> int:
    """The order number a new rule of ``mailbox`` gets: after the last one."""
    last = mailbox.rules.order_by("-position").values_list("position", flat=True).first()
    return 0 if last is None else last + 1
