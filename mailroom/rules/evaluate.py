"""Evaluate a rule's conditions against a message. Pure: no database, no side effects.

A rule matches when every condition holds (AND); :func:`evaluate_rule` also says which
condition failed first and why, in words an administrator reads in the dry run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from mailroom.rules.operators import FIELD_LABELS, OPERATORS, condition_errors, list_items
from mailroom.rules.patterns import search

__all__ = [
    "ConditionFailure",
    "ConditionSpec",
    "MessageFields",
    "RuleResult",
    "condition_errors",
    "condition_holds",
    "evaluate",
    "evaluate_rule",
]

# Values longer than this are shortened in failure texts.
_SHOWN = 60


@dataclass(frozen=True)
class ConditionSpec:
    """One condition as stored: which field, which comparison, which value."""

    field: str
    operator: str
    value: str


@dataclass(frozen=True)
class MessageFields:
    """The parts of a message conditions can look at.

    ``body`` is the text of the mail (HTML-only mail turned into text). The address fields
    hold each address and each non-empty display name. ``bcc`` is known only where the server
    delivers a Bcc header; otherwise it is empty.
    """

    subject: str = ""
    from_: list[str] = field(default_factory=list)
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    body: str = ""
    bcc: list[str] = field(default_factory=list)

    def values(self, name: str) -> list[str]:
        """The texts a condition on field ``name`` compares with."""
        match name:
            case "subject":
                return [self.subject]
            case "body":
                return [self.body]
            case "from":
                return self.from_
            case "to":
                return self.to
            case "cc":
                return self.cc
            case "bcc":
                return self.bcc
        raise ValueError(f"unknown condition field {name!r}")


@dataclass(frozen=True)
class ConditionFailure:
    """The first condition that did not hold: its index in the rule and why, in words."""

    index: int
    text: str


@dataclass(frozen=True)
class RuleResult:
    """Whether a rule matched a message and, if not, which condition failed."""

    matched: bool
    failed: ConditionFailure | None = None


def _short(text: str) -> str:
    text = " ".join(text.split())
    return f"{text[:_SHOWN]}…" if len(text) > _SHOWN else text


def _shown(text: str) -> str:
    return f"“{_short(text)}”"


def _fold(text: str, case_sensitive: bool) -> str:
    text = text.strip()
    return text if case_sensitive else text.casefold()


def _matches(condition: ConditionSpec, texts: list[str], case_sensitive: bool) -> list[str]:
    """The field values the positive form of the condition matches."""
    if condition.operator == "regex":
        return [t for t in texts if search(condition.value, t, case_sensitive=case_sensitive)]
    compare = OPERATORS[condition.operator].compare
    assert compare is not None
    if condition.operator in ("any_of", "not_any_of"):
        value = "\n".join(_fold(item, case_sensitive) for item in list_items(condition.value))
    else:
        value = _fold(condition.value, case_sensitive)
    return [t for t in texts if compare(_fold(t, case_sensitive), value)]


def _check(condition: ConditionSpec, fields: MessageFields, case_sensitive: bool) -> str | None:
    """None if the condition holds, else how it failed. Raise ValueError if it cannot be
    evaluated (unknown field or operator, a pattern RE2 refuses)."""
    texts = fields.values(condition.field)
    try:
        operator = OPERATORS[condition.operator]
    except KeyError:
        raise ValueError(f"unknown condition operator {condition.operator!r}") from None
    label = FIELD_LABELS[condition.field]
    if condition.operator in ("is_empty", "not_empty"):
        empty = not any(t.strip() for t in texts)
        holds = empty if condition.operator == "is_empty" else not empty
        return None if holds else f"{label} {operator.failed}"
    matched = _matches(condition, texts, case_sensitive)
    if condition.operator in ("any_of", "not_any_of"):
        shown = ", ".join(_shown(item) for item in list_items(condition.value))
    else:
        shown = _shown(condition.value)
    if operator.negative:
        if not matched:
            return None
        return f"{label} {operator.failed} {shown} ({_short(matched[0])})"
    return None if matched else f"{label} {operator.failed} {shown}"


def condition_holds(
    condition: ConditionSpec, fields: MessageFields, *, case_sensitive: bool = False
) -> bool:
    """Whether one condition holds. Comparisons ignore surrounding spaces and, unless
    ``case_sensitive``, case. Raise ValueError for a condition that cannot be evaluated."""
    return _check(condition, fields, case_sensitive) is None


def evaluate(
    conditions: Sequence[ConditionSpec], fields: MessageFields, *, case_sensitive: bool = False
) -> bool:
    """Whether every condition holds (AND). A rule without conditions matches every message."""
    return all(condition_holds(c, fields, case_sensitive=case_sensitive) for c in conditions)


def evaluate_rule(
    conditions: Sequence[ConditionSpec], fields: MessageFields, *, case_sensitive: bool = False
) -> RuleResult:
    """Whether every condition holds and, if not, the first that failed and why.

    A condition that cannot be evaluated (saved before validation, or by another path) fails
    the rule: a broken rule never answers.
    """
    for index, condition in enumerate(conditions):
        try:
            failure = _check(condition, fields, case_sensitive)
        except ValueError as exc:
            failure = f"condition {index + 1} cannot be evaluated: {exc}"
        if failure is not None:
            return RuleResult(False, ConditionFailure(index, failure))
    return RuleResult(True)
