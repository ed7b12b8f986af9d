"""Regex conditions: RE2 patterns, validated when saved, never slower than linear."""

from __future__ import annotations

import time

import pytest

from mailroom.rules.evaluate import ConditionSpec, MessageFields, condition_errors, evaluate_rule

# threats.md S09: catastrophic backtracking in a backtracking engine (stdlib ``re`` hangs).
REDOS = [
    ("(x+x+)+y", "x" * 40),
    ("^(a|aa)+$", "a" * 60 + "b"),
    ("(x+x+)+y", "x" * 200_000),
    ("^(a|a?)+$", "a" * 100_000 + "!"),
    (r"^(\w+\s?)*$", "word " * 20_000 + "!"),
]


@pytest.mark.parametrize(("pattern", "text"), REDOS)
def test_a_redos_pattern_is_accepted_and_runs_in_linear_time(pattern: str, text: str) -> None:
    assert condition_errors("body", "regex", pattern) is None
    started = time.perf_counter()
    result = evaluate_rule([ConditionSpec("body", "regex", pattern)], MessageFields(body=text))
    assert time.perf_counter() - started < 0.5
    assert not result.matched


@pytest.mark.parametrize(
    ("pattern", "error"),
    [
        # Backtracking constructs RE2 refuses: refused when the rule is saved.
        (r"(a)\1", "invalid escape sequence"),
        ("(?=a)a", "invalid perl operator"),
        ("(?<!a)b", "invalid perl operator"),
        ("(unclosed", "missing )"),
        ("a{1001}", "invalid repetition size"),
        # Compiles to more than the memory one condition may use.
        (r"\pL{1000}", "pattern too large"),
        ("x" * 1001, "longer than 1000 characters"),
    ],
)
def test_a_pattern_re2_refuses_is_refused_at_save(pattern: str, error: str) -> None:
    message = condition_errors("subject", "regex", pattern)
    assert message is not None
    assert error in message


def test_a_pattern_ignores_case_unless_the_rule_is_case_sensitive() -> None:
    condition = [ConditionSpec("subject", "regex", "^ORDER")]
    mail = MessageFields(subject="order 42")
    assert evaluate_rule(condition, mail).matched
    assert not evaluate_rule(condition, mail, case_sensitive=True).matched
    # A pattern may still ask for case-insensitivity itself.
    inline = [ConditionSpec("subject", "regex", "(?i)^ORDER")]
    assert evaluate_rule(inline, mail, case_sensitive=True).matched


@pytest.mark.parametrize(
    ("field", "operator", "value", "error"),
    [
        ("date", "contains", "x", "unknown field 'date'"),
        ("subject", "matches", "x", "unknown operator 'matches'"),
        ("subject", "contains", "  ", "a value is required"),
        ("subject", "equals", "", "a value is required"),
        ("to", "any_of", "\n \n", "enter at least one value, one per line"),
        ("to", "is_empty", "x", "this operator takes no value"),
        ("to", "regex", "", "a value is required"),
        ("body", "contains", "a\0b", "NUL"),
        ("body", "contains", "x" * 2001, "longer than 2000 characters"),
    ],
)
def test_it_refuses_a_condition_that_cannot_be_saved(
    field: str, operator: str, value: str, error: str
) -> None:
    message = condition_errors(field, operator, value)
    assert message is not None
    assert error in message


@pytest.mark.parametrize(
    ("field", "operator", "value"),
    [
        ("bcc", "not_empty", ""),
        ("subject", "not_any_of", "a\nb"),
        ("from", "regex", r"@(example|partner)\.test$"),
        ("body", "not_equals", "x"),
    ],
)
def test_it_accepts_a_valid_condition(field: str, operator: str, value: str) -> None:
    assert condition_errors(field, operator, value) is None


def test_a_lone_surrogate_in_the_text_does_not_stop_the_match() -> None:
    mail = MessageFields(subject="caf\udcff order")
    assert evaluate_rule([ConditionSpec("subject", "regex", "order$")], mail).matched
