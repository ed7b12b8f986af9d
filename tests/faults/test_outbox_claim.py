"""Claiming an outbox row: two senders never take the same row, and on PostgreSQL a row another
sender has locked is skipped at once (``FOR UPDATE SKIP LOCKED``) rather than waited for."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from django.db import connection, connections

from mailroom.leases import new_owner
from mailroom.models import Mailbox, OutboxMessage, OutboxState
from mailroom.outbox import send as outbox_send

pytestmark = pytest.mark.django_db(transaction=True)


def _pending_row(mailbox: Mailbox) -> OutboxMessage:
    return OutboxMessage.objects.create(
        mailbox=mailbox,
        message_id="<claim-test@mailroom.invalid>",
        to_email="customer@customer.test",
        subject="Re: Question",
        raw=b"Subject: Re: Question\r\n\r\nWe got it.\r\n",
    )


def test_two_senders_claiming_one_row_at_once_one_takes_it(
    make_mailbox: Callable[..., Mailbox],
) -> None:
    row = _pending_row(make_mailbox())
    start = threading.Barrier(2)
    won: list[bool] = []

    def claim() -> None:
        start.wait()
        try:
            won.append(outbox_send._claim(row.pk, new_owner()))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(won) == [False, True]
    assert OutboxMessage.objects.get().state == OutboxState.SENDING


def test_a_row_locked_by_another_sender_is_skipped_without_waiting(
    make_mailbox: Callable[..., Mailbox],
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite has one writer and ignores FOR UPDATE")
    import psycopg

    row = _pending_row(make_mailbox())
    params = connection.get_connection_params()
    with psycopg.connect(**params) as other:
        other.execute(
            "SELECT id FROM mailroom_outboxmessage WHERE id = %s FOR UPDATE", [row.pk]
        ).fetchall()
        with connection.cursor() as cursor:  # a claim that waited would fail, not hang
            cursor.execute("SET lock_timeout = '5s'")
        started = time.monotonic()
        assert outbox_send._claim(row.pk, new_owner()) is False
        assert time.monotonic() - started < 1.0
        other.rollback()
    assert outbox_send._claim(row.pk, new_owner()) is True
    assert OutboxMessage.objects.get().state == OutboxState.SENDING
