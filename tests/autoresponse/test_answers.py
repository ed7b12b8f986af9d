"""The answer record's claim: one answer per rule and sender in the window, whoever asks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import QuerySet
from django.utils import timezone

from mailroom import conf
from mailroom.models import (
    AnswerRecord,
    AutoResponseRule,
    EmailTemplate,
    Message,
    OutboxMessage,
    OutboxState,
    ProcessingRecord,
)
from mailroom.pipeline.base import Context
from mailroom.pipeline.loop_safety import answer_refusal, claim_answer
from mailroom.store.parsed import parsed_from_row
from tests.pipeline.helpers import MAIL, mailbox, stored

pytestmark = pytest.mark.django_db

WEEK = timedelta(days=7)
_numbers = iter(range(1, 1_000_000))


@pytest.fixture
def rule() -> AutoResponseRule:
    template = EmailTemplate.objects.create(name="ack")
    return AutoResponseRule.objects.create(mailbox=mailbox(), name="All", template=template)


def _new(rule: AutoResponseRule) -> Message:
    """Another message of the rule's mailbox (its own Message-ID)."""
    return stored(rule.mailbox, MAIL.replace(b"<p-1@", f"<a-{next(_numbers)}@".encode()))


def _claim(rule: AutoResponseRule, message: Message, address: str = "alice@cust.test") -> bool:
    return AnswerRecord.objects.claim(
        rule=rule, address=address, message=message, now=timezone.now(), window=WEEK
    )


def _reply(rule: AutoResponseRule, message: Message, state: OutboxState) -> None:
    OutboxMessage.objects.create(
        mailbox=rule.mailbox,
        in_reply_to=message,
        rule=rule,
        message_id=f"<r{message.pk}@mailroom.invalid>",
        to_email="alice@cust.test",
        raw=b"",
        state=state,
    )


def test_it_lets_one_claim_through_per_window(rule: AutoResponseRule) -> None:
    first = _new(rule)
    assert _claim(rule, first)
    _reply(rule, first, OutboxState.SENT)

    assert not _claim(rule, _new(rule), "ALICE@cust.test")

    record = AnswerRecord.objects.get()
    assert (record.address, record.claims, record.message) == ("alice@cust.test", 1, first)


def test_it_lets_a_claim_through_once_the_window_passed(rule: AutoResponseRule) -> None:
    first = _new(rule)
    _claim(rule, first)
    _reply(rule, first, OutboxState.SENT)
    AnswerRecord.objects.update(answered_at=timezone.now() - WEEK - timedelta(seconds=1))

    later = _new(rule)
    assert _claim(rule, later)

    record = AnswerRecord.objects.get()
    assert (record.claims, record.message) == (2, later)


@pytest.mark.parametrize(
    ("state", "counts"),
    [
        (OutboxState.PENDING, True),
        (OutboxState.SENDING, True),
        (OutboxState.SENT, True),
        (OutboxState.ABANDONED, True),
        (OutboxState.FAILED, False),
        (None, False),
    ],
)
def test_only_an_answer_that_may_have_gone_out_counts(
    rule: AutoResponseRule, state: OutboxState | None, counts: bool
) -> None:
    # A26: a refused answer, or one never queued (its template failed), does not count.
    first = _new(rule)
    _claim(rule, first)
    if state is not None:
        _reply(rule, first, state)

    assert _claim(rule, _new(rule)) is not counts


def test_an_answer_whose_message_was_deleted_counts(rule: AutoResponseRule) -> None:
    first = _new(rule)
    _claim(rule, first)
    first.delete()

    assert not _claim(rule, _new(rule))


def test_a_concurrent_first_claim_loses_to_the_unique_constraint(
    rule: AutoResponseRule, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another process inserted the row after this one looked and found none.
    assert _claim(rule, _new(rule))
    monkeypatch.setattr(QuerySet, "first", lambda self: None)

    assert not _claim(rule, _new(rule))
    assert AnswerRecord.objects.count() == 1


def test_a_concurrent_renewal_loses_to_the_compare_and_swap(
    rule: AutoResponseRule, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _new(rule)
    _claim(rule, first)
    AnswerRecord.objects.update(answered_at=timezone.now() - 2 * WEEK)
    stale = AnswerRecord.objects.get()
    # Another process renewed the row after this one read it.
    AnswerRecord.objects.update(claims=2, answered_at=timezone.now())
    monkeypatch.setattr(QuerySet, "first", lambda self: stale)

    assert not _claim(rule, _new(rule))
    assert AnswerRecord.objects.get().claims == 2


def test_a_bounce_blocks_the_address_in_that_mailbox_only(rule: AutoResponseRule) -> None:
    _claim(rule, _new(rule), "Alice@Cust.test")
    now = timezone.now()

    assert AnswerRecord.objects.note_bounce(rule.mailbox, ["ALICE@cust.test"], now) == 1

    since = now - timedelta(days=1)
    assert AnswerRecord.objects.bounced_since(rule.mailbox, "alice@cust.test", since)
    assert not AnswerRecord.objects.bounced_since(mailbox(), "alice@cust.test", since)
    assert not AnswerRecord.objects.bounced_since(rule.mailbox, "bob@cust.test", since)


def _context(message: Message) -> Context:
    return Context(
        message=message,
        mailbox=message.mailbox,
        parsed=parsed_from_row(message),
        record=ProcessingRecord.objects.get(message=message),
    )


def test_a_dry_run_sees_what_a_claim_would_refuse_without_writing(
    rule: AutoResponseRule, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _context(_new(rule))
    assert answer_refusal(first, rule, "alice@cust.test") is None
    assert not AnswerRecord.objects.exists()

    assert claim_answer(first, rule, "alice@cust.test") is None
    _reply(rule, first.message, OutboxState.SENT)
    second = _context(_new(rule))
    refusal = "already answered alice@cust.test within 7 days"
    assert answer_refusal(second, rule, "alice@cust.test") == refusal
    assert claim_answer(second, rule, "alice@cust.test") == refusal
    assert AnswerRecord.objects.answered(
        rule=rule, address="Alice@cust.test", now=timezone.now(), window=WEEK
    )

    monkeypatch.setattr(conf, "AUTORESPONSE_MAX_PER_HOUR", 1)
    capped = "reply suppressed: the mailbox's limit of 1 answers an hour is reached"
    assert answer_refusal(_context(_new(rule)), rule, "bob@cust.test") == capped
    assert not rule.mailbox.alerts.exists()
