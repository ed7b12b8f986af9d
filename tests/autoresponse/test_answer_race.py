"""Two processes answering the same sender for the same rule at once: one answer.

Threads with their own database connections claim the answer record at the same moment and,
as the respond step does, queue the reply in the same transaction, which they keep open a
little. The loser waits for the winner's index entry (a first answer) or row (a renewal) and
then finds the claim taken. This needs connections of their own: the in-memory SQLite of the
embedded pass shares one connection between threads, so the race runs in CI's PostgreSQL pass
(``MAILROOM_TEST_DATABASE_URL``); on a SQLite file there is one writer at a time anyway.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from mailroom.models import (
    AnswerRecord,
    AutoResponseRule,
    EmailTemplate,
    Mailbox,
    Message,
    OutboxMessage,
)
from tests.pipeline.helpers import MAIL, stored

pytestmark = pytest.mark.django_db(transaction=True)

ADDRESS = "alice@customer.test"


def _race(rule: AutoResponseRule, messages: list[Message]) -> list[bool]:
    start = threading.Barrier(len(messages))
    won: list[bool] = []

    def answer(message: Message) -> None:
        start.wait()
        try:
            with transaction.atomic():
                claimed = AnswerRecord.objects.claim(
                    rule=rule,
                    address=ADDRESS,
                    message=message,
                    now=timezone.now(),
                    window=timedelta(days=7),
                )
                if claimed:
                    OutboxMessage.objects.create(
                        mailbox=rule.mailbox,
                        in_reply_to=message,
                        rule=rule,
                        message_id=f"<race-{message.pk}@mailroom.invalid>",
                        to_email=ADDRESS,
                        raw=b"",
                    )
                time.sleep(0.3)
            won.append(claimed)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=answer, args=(m,)) for m in messages]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return won


@pytest.fixture
def rule(make_mailbox: Callable[..., Mailbox]) -> AutoResponseRule:
    if connection.vendor != "postgresql":
        pytest.skip("threads share the in-memory SQLite connection; run on PostgreSQL")
    template = EmailTemplate.objects.create(name="ack")
    return AutoResponseRule.objects.create(mailbox=make_mailbox(), name="All", template=template)


def _messages(rule: AutoResponseRule, count: int) -> list[Message]:
    return [
        stored(rule.mailbox, MAIL.replace(b"<p-1@", f"<race-{n}@".encode())) for n in range(count)
    ]


def test_two_first_answers_at_once_one_is_claimed(rule: AutoResponseRule) -> None:
    won = _race(rule, _messages(rule, 2))

    assert sorted(won) == [False, True]
    assert AnswerRecord.objects.get().claims == 1
    assert OutboxMessage.objects.count() == 1


def test_two_renewals_at_once_one_is_claimed(rule: AutoResponseRule) -> None:
    (first, *racing) = _messages(rule, 3)
    AnswerRecord.objects.create(
        mailbox=rule.mailbox,
        rule=rule,
        address=ADDRESS,
        message=first,
        answered_at=timezone.now() - timedelta(days=8),
    )

    won = _race(rule, racing)

    assert sorted(won) == [False, True]
    assert AnswerRecord.objects.get().claims == 2
    assert OutboxMessage.objects.count() == 1
