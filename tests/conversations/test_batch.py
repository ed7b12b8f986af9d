"""Threading a batch at once (``mailroom.conversations.batch``): messages that stand alone get
their conversation in bulk; messages of one batch that name each other still end up together,
whichever of them was stored first."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mailroom.models import Conversation, Mailbox, Message, MessageReference
from mailroom.pipeline.engine import process_messages
from tests.pipeline.helpers import mailbox, stored

pytestmark = pytest.mark.django_db


def _mail(n: int, *, reply_to: int | None = None, extra: bytes = b"") -> bytes:
    head = b"In-Reply-To: <b-%d@customer.test>\r\n" % reply_to if reply_to is not None else b""
    return (
        b"Return-Path: <p%d@customer.test>\r\n"
        b"From: Person %d <p%d@customer.test>\r\n"
        b"To: support@example.test\r\n"
        b"Subject: Question %d\r\n"
        b"Message-ID: <b-%d@customer.test>\r\n%s%s\r\nHello.\r\n"
    ) % (n, n, n, n, n, head, extra)


def _conversation(message: Message) -> int:
    placed = Message.objects.values_list("conversation_id", flat=True).get(pk=message.pk)
    assert placed is not None
    return int(placed)


def test_unrelated_messages_of_a_batch_each_start_a_conversation() -> None:
    box = mailbox()
    messages = [stored(box, _mail(n)) for n in range(30)]
    process_messages([m.pk for m in messages])
    conversations = [_conversation(m) for m in messages]
    assert len(set(conversations)) == 30
    for message in messages:
        conversation = Conversation.objects.get(pk=_conversation(message))
        assert conversation.mailbox_id == box.pk
        assert conversation.subject == message.subject
        assert conversation.contact is not None
        assert conversation.contact.email == message.from_email
        assert message.processing.steps[1]["detail"] == f"conversation {conversation.pk} started"


def test_a_reply_stored_before_its_parent_in_the_same_batch_joins_it() -> None:
    box = mailbox()
    reply = stored(box, _mail(2, reply_to=1))
    others = [stored(box, _mail(n)) for n in range(10, 15)]
    parent = stored(box, _mail(1))
    process_messages([reply.pk, parent.pk, *(m.pk for m in others)])
    assert _conversation(reply) == _conversation(parent)
    assert len({_conversation(m) for m in others}) == 5
    assert _conversation(parent) not in {_conversation(m) for m in others}


def test_a_parent_and_its_replies_in_one_batch_are_one_conversation() -> None:
    box = mailbox()
    parent = stored(box, _mail(1))
    first = stored(box, _mail(2, reply_to=1))
    second = stored(box, _mail(3, reply_to=2))
    process_messages([parent.pk, first.pk, second.pk])
    assert _conversation(parent) == _conversation(first) == _conversation(second)
    assert MessageReference.objects.filter(message__in=[first, second]).count() == 2


def test_a_reply_to_mail_of_another_mailbox_starts_its_own_conversation() -> None:
    sales, support = mailbox(), mailbox()
    parent = stored(sales, _mail(1))
    process_messages([parent.pk])
    reply = stored(support, _mail(2, reply_to=1))
    process_messages([reply.pk])
    assert _conversation(reply) != _conversation(parent)
    assert Conversation.objects.get(pk=_conversation(reply)).mailbox_id == support.pk


def test_automatic_mail_starts_a_conversation_marked_with_its_kind() -> None:
    box = mailbox()
    vacation = stored(box, _mail(1, extra=b"Auto-Submitted: auto-replied\r\n"))
    person = stored(box, _mail(2))
    process_messages([vacation.pk, person.pk])
    assert Conversation.objects.get(pk=_conversation(vacation)).marks == ["out of office"]
    assert Conversation.objects.get(pk=_conversation(person)).marks == []


def test_a_batch_of_new_mail_costs_no_statement_per_message_for_threading() -> None:
    """Threading work grows with batches, not messages: what is left per message is the
    savepoint that keeps one message's failure from undoing the others."""

    def statements(box: Mailbox, count: int, first: int) -> int:
        ids = [stored(box, _mail(n)).pk for n in range(first, first + count)]
        with CaptureQueriesContext(connection) as captured:
            process_messages(ids)
        return sum(1 for q in captured.captured_queries if "SAVEPOINT" not in q["sql"])

    small = statements(mailbox(), 10, 100)
    large = statements(mailbox(), 100, 200)
    # Ten times the messages: the same statements, plus a few more bulk inserts' chunks.
    assert large - small < 10
