"""What each condition operator means, how it reads when it fails, and what value it takes.

Positive operators hold if any value of a multi-valued field (From, To, Cc, Bcc) matches;
negative ones (does not contain, is not equal to, is not any of) hold only if none does;
is empty / is not empty look at the whole field. ``any_of`` and ``not_any_of`` take one
value per line (commas are common inside display names and subjects, so they do not
separate values).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mailroom.models.rules import VALUE_MAX_LENGTH, ConditionField, ConditionOperator
from mailroom.rules.patterns import MAX_LENGTH, pattern_error

# Compares one value of the field (already case-folded unless case-sensitive) with the
# condition's value(s).
Compare = Callable[[str, str], bool]


@dataclass(frozen=True)
class Operator:
    """One operator: how a single field value is compared and how a failure reads."""

    # For a negative operator, the positive comparison it negates.
    compare: Compare | None
    negative: bool = False
    needs_value: bool = True
    # How the condition reads when it fails, e.g. "does not contain" for "contains".
    failed: str = ""


def _any_of(text: str, value: str) -> bool:
    return text in list_items(value)


OPERATORS: dict[str, Operator] = {
    "contains": Operator(lambda t, v: v in t, failed="does not contain"),
    "not_contains": Operator(lambda t, v: v in t, negative=True, failed="contains"),
    "equals": Operator(lambda t, v: t == v, failed="is not equal to"),
    "not_equals": Operator(lambda t, v: t == v, negative=True, failed="is equal to"),
    "starts_with": Operator(lambda t, v: t.startswith(v), failed="does not start with"),
    "ends_with": Operator(lambda t, v: t.endswith(v), failed="does not end with"),
    "any_of": Operator(_any_of, failed="is none of"),
    "not_any_of": Operator(_any_of, negative=True, failed="is one of"),
    "is_empty": Operator(None, needs_value=False, failed="is not empty"),
    "not_empty": Operator(None, needs_value=False, failed="is empty"),
    # The pattern is matched by evaluate (it needs the rule's case sensitivity).
    "regex": Operator(None, failed="does not match"),
}

FIELD_LABELS: dict[str, str] = dict(ConditionField.choices)


def list_items(value: str) -> list[str]:
    """The values of an ``any_of``/``not_any_of`` condition: one per line, stripped, blank
    lines left out."""
    return [item.strip() for item in value.splitlines() if item.strip()]


def condition_errors(field: str, operator: str, value: str) -> str | None:
    """Why a condition cannot be saved, or None. Validate at the edge (forms, import)."""
    if field not in ConditionField.values:
        return f"unknown field {field!r}"
    if operator not in ConditionOperator.values:
        return f"unknown operator {operator!r}"
    spec = OPERATORS[operator]
    if not spec.needs_value:
        return "this operator takes no value" if value.strip() else None
    if "\0" in value:
        return "the value contains a NUL character"
    if len(value) > VALUE_MAX_LENGTH:
        return f"the value is longer than {VALUE_MAX_LENGTH} characters"
    if operator in ("any_of", "not_any_of"):
        return None if list_items(value) else "enter at least one value, one per line"
    if not value.strip():
        return "a value is required"
    if operator == "regex":
        if len(value) > MAX_LENGTH:
            return f"the pattern is longer than {MAX_LENGTH} characters"
        return pattern_error(value)
    return None
