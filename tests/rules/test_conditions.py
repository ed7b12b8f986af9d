"""Every condition field, operator and case sensitivity, and what a failed rule says."""

from __future__ import annotations

import itertools

import pytest

from mailroom.models import ConditionField, ConditionOperator
from mailroom.rules.evaluate import (
    ConditionFailure,
    ConditionSpec,
    MessageFields,
    RuleResult,
    evaluate_rule,
)

MAIL = MessageFields(
    subject="Refund for Order 42",
    body="Please send the Refund.",
    from_=["alice@customer.test", "Alice Martin"],
    to=["support@example.test", "Sales@example.test"],
    cc=["Bob@Partner.test"],
    bcc=[],
)

# (field, operator, value, holds ignoring case, holds case-sensitively)
TABLE = [
    ("subject", "contains", "order", True, False),
    ("subject", "not_contains", "order", False, True),
    ("subject", "equals", "refund for order 42", True, False),
    ("subject", "not_equals", "refund for order 42", False, True),
    ("subject", "starts_with", "refund", True, False),
    ("subject", "ends_with", "ORDER 42", True, False),
    ("subject", "any_of", "invoice\nrefund for order 42", True, False),
    ("subject", "not_any_of", "invoice\nrefund for order 42", False, True),
    ("subject", "is_empty", "", False, False),
    ("subject", "not_empty", "", True, True),
    ("subject", "regex", r"^refund\b.*\d+$", True, False),
    ("body", "contains", "the refund", True, False),
    ("body", "not_contains", "the refund", False, True),
    ("body", "equals", "please send the refund.", True, False),
    ("body", "not_equals", "please send the refund.", False, True),
    ("body", "starts_with", "PLEASE", True, False),
    ("body", "ends_with", "refund.", True, False),
    ("body", "any_of", "hello\nplease send the refund.", True, False),
    ("body", "not_any_of", "hello\nplease send the refund.", False, True),
    ("body", "is_empty", "", False, False),
    ("body", "not_empty", "", True, True),
    ("body", "regex", r"send\s+the\s+refund", True, False),
    # From: the address and the display name.
    ("from", "contains", "martin", True, False),
    ("from", "not_contains", "ALICE", False, True),
    ("from", "equals", "ALICE@customer.test", True, False),
    ("from", "not_equals", "ALICE@customer.test", False, True),
    ("from", "starts_with", "alice m", True, False),
    ("from", "ends_with", "@CUSTOMER.TEST", True, False),
    ("from", "any_of", "x@y.test\nALICE MARTIN", True, False),
    ("from", "not_any_of", "x@y.test\nALICE MARTIN", False, True),
    ("from", "is_empty", "", False, False),
    ("from", "not_empty", "", True, True),
    ("from", "regex", "^ALICE@", True, False),
    # To: two recipients; a positive operator needs one, a negative one needs none.
    ("to", "contains", "sales@", True, False),
    ("to", "not_contains", "sales@", False, True),
    ("to", "equals", "sales@example.test", True, False),
    ("to", "not_equals", "sales@example.test", False, True),
    ("to", "starts_with", "SUPPORT@", True, False),
    ("to", "ends_with", "@EXAMPLE.TEST", True, False),
    ("to", "any_of", "SALES@example.test\nnobody@example.test", True, False),
    ("to", "not_any_of", "SALES@example.test\nnobody@example.test", False, True),
    ("to", "is_empty", "", False, False),
    ("to", "not_empty", "", True, True),
    ("to", "regex", r"^s\w+@EXAMPLE", True, False),
    ("cc", "contains", "partner", True, False),
    ("cc", "not_contains", "partner", False, True),
    ("cc", "equals", "bob@partner.test", True, False),
    ("cc", "not_equals", "bob@partner.test", False, True),
    ("cc", "starts_with", "bob", True, False),
    ("cc", "ends_with", "partner.test", True, False),
    ("cc", "any_of", "bob@partner.test", True, False),
    ("cc", "not_any_of", "bob@partner.test", False, True),
    ("cc", "is_empty", "", False, False),
    ("cc", "not_empty", "", True, True),
    ("cc", "regex", "^bob@", True, False),
    # Bcc: not delivered for this message, so nothing matches and every negation holds.
    ("bcc", "contains", "x", False, False),
    ("bcc", "not_contains", "x", True, True),
    ("bcc", "equals", "x", False, False),
    ("bcc", "not_equals", "x", True, True),
    ("bcc", "starts_with", "x", False, False),
    ("bcc", "ends_with", "x", False, False),
    ("bcc", "any_of", "x", False, False),
    ("bcc", "not_any_of", "x", True, True),
    ("bcc", "is_empty", "", True, True),
    ("bcc", "not_empty", "", False, False),
    ("bcc", "regex", ".", False, False),
]


def test_the_table_covers_every_field_and_operator() -> None:
    covered = {(field, operator) for field, operator, *_ in TABLE}
    assert covered == set(itertools.product(ConditionField.values, ConditionOperator.values))


@pytest.mark.parametrize("case_sensitive", [False, True], ids=["ignoring-case", "case-sensitive"])
@pytest.mark.parametrize(("field", "operator", "value", "insensitive", "sensitive"), TABLE)
def test_it_evaluates_every_field_and_operator(
    field: str, operator: str, value: str, insensitive: bool, sensitive: bool, case_sensitive: bool
) -> None:
    result = evaluate_rule(
        [ConditionSpec(field, operator, value)], MAIL, case_sensitive=case_sensitive
    )
    assert result.matched is (sensitive if case_sensitive else insensitive)
    assert (result.failed is None) is result.matched


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        # One recipient of two matches: enough for a positive operator, too many for a negative.
        ("contains", "support", True),
        ("not_contains", "support", False),
        ("not_equals", "support@example.test", False),
        ("not_any_of", "support@example.test", False),
        ("not_contains", "billing", True),
        ("equals", "billing@example.test", False),
    ],
)
def test_one_matching_recipient_is_enough_for_a_positive_operator_and_too_many_for_a_negative(
    operator: str, value: str, expected: bool
) -> None:
    assert evaluate_rule([ConditionSpec("to", operator, value)], MAIL).matched is expected


def test_a_delivered_bcc_header_is_matched_like_to() -> None:
    mail = MessageFields(bcc=["audit@example.test"])
    assert evaluate_rule([ConditionSpec("bcc", "equals", "AUDIT@example.test")], mail).matched
    assert not evaluate_rule([ConditionSpec("bcc", "is_empty", "")], mail).matched


def test_blank_fields_are_empty() -> None:
    mail = MessageFields(subject="  ", body="\n")
    for field in ConditionField.values:
        assert evaluate_rule([ConditionSpec(field, "is_empty", "")], mail).matched


def test_list_values_take_one_per_line_and_ignore_blank_lines_and_spaces() -> None:
    condition = ConditionSpec("cc", "any_of", "\n  someone@else.test \n\n bob@partner.test  \n")
    assert evaluate_rule([condition], MAIL).matched


def test_a_comma_is_part_of_a_listed_value() -> None:
    mail = MessageFields(from_=["doe@example.test", "Doe, John"])
    assert evaluate_rule([ConditionSpec("from", "any_of", "Doe, John")], mail).matched


@pytest.mark.parametrize(
    ("condition", "text"),
    [
        (ConditionSpec("subject", "contains", "invoice"), "Subject does not contain “invoice”"),
        (ConditionSpec("subject", "equals", "x"), "Subject is not equal to “x”"),
        (ConditionSpec("body", "starts_with", "Dear"), "Body does not start with “Dear”"),
        (ConditionSpec("from", "ends_with", ".org"), "From does not end with “.org”"),
        (ConditionSpec("cc", "is_empty", ""), "Cc is not empty"),
        (ConditionSpec("bcc", "not_empty", ""), "Bcc is empty"),
        (ConditionSpec("subject", "regex", "^x"), "Subject does not match “^x”"),
        (
            ConditionSpec("to", "any_of", "a@x.test\nb@x.test"),
            "To is none of “a@x.test”, “b@x.test”",
        ),
        # A negative condition names the value that made it fail.
        (
            ConditionSpec("to", "not_contains", "sales"),
            "To contains “sales” (Sales@example.test)",
        ),
        (
            ConditionSpec("from", "not_equals", "alice martin"),
            "From is equal to “alice martin” (Alice Martin)",
        ),
        (
            ConditionSpec("cc", "not_any_of", "bob@partner.test"),
            "Cc is one of “bob@partner.test” (Bob@Partner.test)",
        ),
    ],
)
def test_a_failed_rule_says_which_condition_failed_and_why(
    condition: ConditionSpec, text: str
) -> None:
    hit = ConditionSpec("subject", "contains", "refund")
    assert evaluate_rule([hit, condition], MAIL) == RuleResult(False, ConditionFailure(1, text))


def test_a_long_value_is_shortened_in_the_reason() -> None:
    result = evaluate_rule([ConditionSpec("subject", "contains", "y" * 200)], MAIL)
    assert result.failed is not None
    assert result.failed.text == f"Subject does not contain “{'y' * 60}…”"


def test_a_condition_that_cannot_be_evaluated_fails_the_rule_and_says_so() -> None:
    result = evaluate_rule([ConditionSpec("subject", "regex", r"(a)\1")], MAIL)
    assert not result.matched
    assert result.failed is not None
    assert result.failed.text.startswith("condition 1 cannot be evaluated: not a valid RE2")
    unknown = evaluate_rule([ConditionSpec("subject", "matches", "x")], MAIL)
    assert unknown.failed is not None
    assert "unknown condition operator 'matches'" in unknown.failed.text


def test_a_rule_without_conditions_matches_every_message() -> None:
    assert evaluate_rule([], MessageFields()) == RuleResult(True)
