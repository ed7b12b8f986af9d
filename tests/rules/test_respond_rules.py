"""Rule order, "stop after this rule", case sensitivity and the fields rules see, through the
real pipeline."""

from __future__ import annotations

import pytest

from mailroom.models import (
    AutoResponseRule,
    EmailTemplate,
    EmailTemplateTranslation,
    Mailbox,
    OutboxMessage,
    ProcessingRecord,
    ProcessingState,
    RuleCondition,
)
from mailroom.pipeline.engine import process_message
from tests.pipeline.helpers import MAIL, mailbox, stored

pytestmark = pytest.mark.django_db


def _rule(box: Mailbox, name: str, *conditions: tuple[str, str, str], **fields: object) -> None:
    template = EmailTemplate.objects.create(name=f"{name}-{box.pk}")
    EmailTemplateTranslation.objects.create(
        template=template, language="en", subject=f"Re: {name}", body="Thanks."
    )
    rule = AutoResponseRule.objects.create(mailbox=box, name=name, template=template, **fields)
    for k, (field, operator, value) in enumerate(conditions):
        RuleCondition.objects.create(
            rule=rule, field=field, operator=operator, value=value, position=k
        )


def _answered_by(box: Mailbox, raw: bytes = MAIL) -> list[str]:
    message = stored(box, raw)
    assert process_message(message.pk) == ProcessingState.DONE
    return [o.rule.name for o in OutboxMessage.objects.filter(in_reply_to=message).order_by("pk")]


def test_rules_answer_in_order_of_position() -> None:
    box = mailbox()
    _rule(box, "A", position=2)
    _rule(box, "B", position=1)
    _rule(box, "C", position=3)

    assert _answered_by(box) == ["B", "A", "C"]
    assert ProcessingRecord.objects.get().rule_hits == ["B", "A", "C"]


def test_a_matching_stop_after_rule_ends_the_evaluation() -> None:
    box = mailbox()
    _rule(box, "Printers", ("subject", "contains", "printer"), position=0, stop_after=True)
    _rule(box, "Everything else", position=1)

    assert _answered_by(box) == ["Printers"]
    record = ProcessingRecord.objects.get()
    assert record.rule_hits == ["Printers"]
    assert record.rule_misses == []


def test_a_stop_after_rule_that_does_not_match_lets_the_next_rules_run() -> None:
    box = mailbox()
    _rule(box, "Invoices", ("subject", "contains", "invoice"), position=0, stop_after=True)
    _rule(box, "Everything else", position=1)

    assert _answered_by(box) == ["Everything else"]
    record = ProcessingRecord.objects.get()
    assert record.rule_misses == ["Invoices"]


def test_a_stop_after_rule_held_back_by_the_loop_rules_still_stops_the_rules_after_it() -> None:
    box = mailbox()
    _rule(box, "Printers", ("subject", "contains", "printer"), position=0, stop_after=True)
    _rule(box, "Everything else", position=1)
    assert _answered_by(box) == ["Printers"]

    # The same sender again within the window: Printers does not answer twice, and the
    # catch-all after it does not answer instead.
    again = MAIL.replace(b"<p-1@customer.test>", b"<p-2@customer.test>")
    assert _answered_by(box, again) == []


def test_a_case_sensitive_rule_compares_case() -> None:
    box = mailbox()
    _rule(box, "Exact", ("subject", "contains", "broken"), case_sensitive=True)
    _rule(box, "Loose", ("subject", "contains", "broken"))

    assert _answered_by(box) == ["Loose"]


def test_the_step_says_why_no_rule_matched() -> None:
    box = mailbox()
    _rule(
        box, "Refunds", ("from", "ends_with", "@customer.test"), ("subject", "contains", "refund")
    )

    assert _answered_by(box) == []
    detail = ProcessingRecord.objects.get().steps[-1]["detail"]
    assert detail == "no rule matched (Refunds: Subject does not contain “refund”)"


def test_the_body_of_html_only_mail_is_its_text() -> None:
    box = mailbox()
    _rule(
        box,
        "Printers",
        ("body", "equals", "It does not print."),
        ("body", "not_contains", "<b>"),
        ("body", "not_contains", "hidden"),
    )
    html_only = MAIL.replace(
        b"\r\nIt does not print.\r\n",
        b"Content-Type: text/html; charset=utf-8\r\n\r\n"
        b"<html><body><p>It <b>does not</b> print.</p><script>hidden()</script></body></html>\r\n",
    )

    assert _answered_by(box, html_only) == ["Printers"]


def test_a_delivered_bcc_header_is_seen_by_rules() -> None:
    box = mailbox()
    _rule(box, "Audit copy", ("bcc", "equals", "audit@example.test"))
    _rule(box, "Not blind", ("bcc", "is_empty", ""))
    with_bcc = MAIL.replace(b"Subject:", b"Bcc: Audit <audit@example.test>\r\nSubject:", 1)

    assert _answered_by(box, with_bcc) == ["Audit copy"]


def test_a_rule_whose_pattern_cannot_be_compiled_never_answers() -> None:
    box = mailbox()
    _rule(box, "Broken", ("subject", "regex", r"(printer)\1"))

    assert _answered_by(box) == []
    detail = ProcessingRecord.objects.get().steps[-1]["detail"]
    assert "Broken: condition 1 cannot be evaluated: not a valid RE2 pattern" in detail
