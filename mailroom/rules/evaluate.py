"""Evaluate a rule's conditions against a message. Pure: no database, no side effects."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ConditionSpec:
    """One condition as stored: which field, which comparison, which value."""

    field: str
    operator: str
    value: str


@dataclass(frozen=True)
class MessageFields:
    """The parts of a message conditions can look at. List fields match if any item matches."""

    subject: str = ""
    from_: list[str] = field(default_factory=list)
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    body: str = ""

    def values(self, name: str) -> list[str]:
        """The texts a condition on field ``name`` compares with."""
        match name:
            case "subject":
                return [self.subject]
            case "from":
                return self.from_
            case "to":
                return self.to
            case "cc":
                return self.cc
            case "body":
                return [self.body]
        raise ValueError(f"unknown condition field {name!r}")


_POSITIVE: dict[str, Callable[[str, str], bool]] = {
    "contains": lambda text, value: value in text,
    "equals": lambda text, value: text == value,
    "starts_with": lambda text, value: text.startswith(value),
    "ends_with": lambda text, value: text.endswith(value),
}


def condition_holds(condition: ConditionSpec, fields: MessageFields) -> bool:
    """Whether one condition holds; comparisons ignore case and surrounding spaces."""
    value = condition.value.strip().casefold()
    texts = [t.strip().casefold() for t in fields.values(condition.field)]
    if condition.operator == "not_contains":
        return not any(value in text for text in texts)
    try:
        compare = _POSITIVE[condition.operator]
    except KeyError:
        raise ValueError(f"unknown condition operator {condition.operator!r}") from None
    return any(compare(text, value) for text in texts)


def evaluate(conditions: list[ConditionSpec], fields: MessageFields) -> bool:
    """Whether every condition holds (AND). A rule without conditions matches every message."""
    return all(condition_holds(c, fields) for c in conditions)
