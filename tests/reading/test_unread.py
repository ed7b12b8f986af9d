"""Unread state per person: idempotent marks, per user, none for anonymous visitors."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.db import connection

from mailroom.models import Message, MessageRead
from mailroom.reading.unread import (
    mark_many_read,
    mark_read,
    mark_unread,
    unread_only,
    with_read_state,
)
from tests.pipeline.helpers import mailbox, stored

pytestmark = pytest.mark.django_db


def test_marking_read_twice_keeps_one_record_and_its_first_time() -> None:
    message = stored(mailbox())
    user = User.objects.create_user("ann")
    mark_read(user, message.pk)
    first = MessageRead.objects.get()
    mark_read(user, message.pk)
    mark_many_read(user, [message.pk, message.pk])
    assert MessageRead.objects.get().read_at == first.read_at


def test_read_state_is_per_person() -> None:
    message = stored(mailbox())
    ann, bob = User.objects.create_user("ann"), User.objects.create_user("bob")
    mark_read(ann, message.pk)
    assert with_read_state(Message.objects.all(), ann).get().is_read  # type: ignore[attr-defined]
    assert not with_read_state(Message.objects.all(), bob).get().is_read  # type: ignore[attr-defined]
    assert list(unread_only(Message.objects.all(), bob)) == [message]
    assert list(unread_only(Message.objects.all(), ann)) == []
    mark_unread(ann, message.pk)
    mark_unread(ann, message.pk)
    assert list(unread_only(Message.objects.all(), ann)) == [message]


def test_an_anonymous_visitor_has_no_read_state() -> None:
    message = stored(mailbox())
    mark_read(AnonymousUser(), message.pk)
    mark_unread(AnonymousUser(), message.pk)
    assert not MessageRead.objects.exists()
    assert list(unread_only(Message.objects.all(), AnonymousUser())) == [message]


@pytest.mark.django_db(transaction=True)
def test_two_requests_marking_at_once_leave_one_record_and_no_error() -> None:
    message = stored(mailbox())
    user = User.objects.create_user("ann")
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def mark() -> None:
        try:
            start.wait()
            for _ in range(5):
                mark_read(user, message.pk)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=mark) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert MessageRead.objects.filter(user=user, message=message).count() == 1
