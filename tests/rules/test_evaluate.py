"""Rule conditions: pure predicates over a message's fields."""

from __future__ import annotations

import pytest

from mailroom.rules.evaluate import ConditionSpec, MessageFields, evaluate

FIELDS = MessageFields(
    subject="Refund for order 42",
    from_=["alice@customer.test", "Alice Martin"],
    to=["support@example.test"],
    cc=[],
    body="Please send the refund.",
)


@pytest.mark.parametrize(
    ("field", "operator", "value", "expected"),
    [
        ("subject", "contains", "REFUND", True),
        ("subject", "contains", "invoice", False),
        ("subject", "not_contains", "invoice", True),
        ("subject", "not_contains", "order", False),
        ("subject", "equals", " refund for order 42 ", True),
        ("subject", "equals", "refund", False),
        ("subject", "starts_with", "refund", True),
        ("subject", "ends_with", "42", True),
        ("from", "ends_with", "@customer.test", True),
        ("from", "contains", "martin", True),
        ("to", "equals", "support@example.test", True),
        ("cc", "contains", "x", False),
        ("cc", "not_contains", "x", True),
        ("body", "contains", "send the refund", True),
    ],
)
def test_it_evaluates_each_operator_ignoring_case(
    field: str, operator: str, value: str, expected: bool
) -> None:
    assert evaluate([ConditionSpec(field, operator, value)], FIELDS) is expected


def test_it_requires_every_condition_to_hold() -> None:
    hit = ConditionSpec("subject", "contains", "refund")
    miss = ConditionSpec("body", "contains", "invoice")
    assert evaluate([hit], FIELDS)
    assert not evaluate([hit, miss], FIELDS)


def test_it_matches_every_message_when_a_rule_has_no_condition() -> None:
    assert evaluate([], MessageFields())


def test_it_refuses_an_unknown_operator() -> None:
    with pytest.raises(ValueError, match="operator"):
        evaluate([ConditionSpec("subject", "matches", "x")], FIELDS)
