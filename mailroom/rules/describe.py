"""Rules in words, as the mailbox page lists them: "Subject contains “refund” and …"."""

from __future__ import annotations

from mailroom.models import AutoResponseRule, ConditionField, ConditionOperator, Mailbox
from mailroom.rules.placeholders import empty_placeholders, warning

_FIELDS = dict(ConditionField.choices)
_OPERATORS = dict(ConditionOperator.choices)


def describe_condition(field: str, operator: str, value: str) -> str:
    """One condition as a phrase; a value is quoted (and shortened), never interpreted."""
    words = f"{_FIELDS.get(field, field)} {_OPERATORS.get(operator, operator)}"
    if operator in ("is_empty", "not_empty"):
        return words
    items = [line.strip() for line in value.splitlines() if line.strip()] or [value]
    shown = ", ".join(f"“{item[:60]}{'…' if len(item) > 60 else ''}”" for item in items[:5])
    more = f" and {len(items) - 5} more" if len(items) > 5 else ""
    return f"{words} {shown}{more}"


def rule_rows(mailbox: Mailbox) -> list[AutoResponseRule]:
    """The mailbox's rules in order, each with ``summary`` (its conditions in words),
    ``languages`` (those its response is written in) and ``placeholder_warning`` (what its
    answers would leave empty, if anything: :mod:`mailroom.rules.placeholders`)."""
    rules = list(
        mailbox.rules.select_related("template")
        .prefetch_related("conditions", "template__translations")
        .order_by("position", "name")
    )
    for rule in rules:
        rule.summary = [  # type: ignore[attr-defined]
            describe_condition(c.field, c.operator, c.value) for c in rule.conditions.all()
        ]
        rule.languages = [t.language for t in rule.template.translations.all()]  # type: ignore[attr-defined]
        names = empty_placeholders(rule, mailbox.processor_kind) if rule.active else []
        rule.placeholder_warning = (  # type: ignore[attr-defined]
            warning(rule, names, mailbox.processor_kind) if names else ""
        )
    return rules
