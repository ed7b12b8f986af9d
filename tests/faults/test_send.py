"""Sending replies through a real SMTP server (aiosmtpd) that refuses, defers or drops
(threats.md §4.1 F19, F20, F21).

Replies are made by the real pipeline from mail fetched from Dovecot; the SMTP sink answers
with scripted codes or closes the connection. Retries happen when time has passed, which the
tests stand for by moving ``next_attempt_at`` or a lease's expiry into the past. A worker
killed mid-send is stood for by an exception that no ``except Exception`` catches, raised
around the real SMTP exchange.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from email import message_from_bytes
from typing import Any, AnyStr

import pytest
from aiosmtpd.smtp import SMTP
from django.db import transaction
from django.utils import timezone

from mailroom.models import (
    Mailbox,
    MailboxConnection,
    Message,
    OutboxMessage,
    OutboxState,
    ProcessingRecord,
    ProcessingState,
)
from mailroom.outbox import send as outbox_send
from mailroom.outbox.send import MAX_ATTEMPTS, due_outbox_ids, send_outbox
from mailroom.pipeline.engine import process_messages
from mailroom.tasks import jobs
from mailroom.tasks.dispatch import set_executor
from mailroom.tasks.executor import EmbeddedExecutor
from tests.faults.helpers import answering_rule, customer_mail, open_alerts, sync_once
from tests.servers.fixtures import ImapAccount
from tests.servers.smtp import DROP, SmtpSink, _DsnSMTP
from tests.storing import store_one

pytestmark = pytest.mark.django_db


class _BusyGreeting(_DsnSMTP):
    """aiosmtpd's protocol, greeting with 421 and closing while the sink says it is busy."""

    def __init__(self, sink: BusyGreetingSink, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sink = sink
        self._greeted = False

    async def push(self, status: AnyStr) -> None:
        first, self._greeted = not self._greeted, True
        if first and self._sink.take_busy():
            await super().push("421 4.3.2 Too many connections, try again later")
            assert self.transport is not None
            self.transport.close()
            return
        await super().push(status)


class BusyGreetingSink(SmtpSink):
    """The SMTP sink, greeting its next ``busy`` connections with 421 (RFC 5321 §3.8: a server
    that cannot take mail now says so at connect and closes). Its script covers DATA only."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Set once started: aiosmtpd's controller connects to itself while starting.
        self.busy = 0
        self.turned_away = 0
        controller = self._controller

        def factory() -> SMTP:
            return _BusyGreeting(self, controller.handler, **controller.SMTP_kwargs)

        controller.factory = factory  # type: ignore[method-assign]

    def take_busy(self) -> bool:
        if self.busy <= 0:
            return False
        self.busy -= 1
        self.turned_away += 1
        return True


@pytest.fixture
def busy_sink(imap_account: ImapAccount) -> Iterator[BusyGreetingSink]:
    with BusyGreetingSink(
        username=imap_account.username, password=imap_account.password, auth_required=True
    ) as sink:
        yield sink


def _reply_queued(
    make_mailbox: Callable[..., Mailbox], imap_account: ImapAccount, *, smtp_port: int = 0
) -> Mailbox:
    """A mailbox with an answering rule and one customer mail waiting on the server."""
    mailbox = make_mailbox()
    answering_rule(mailbox)
    if smtp_port:
        MailboxConnection.objects.filter(mailbox=mailbox).update(smtp_port=smtp_port)
    imap_account.append("INBOX", customer_mail(1))
    return mailbox


def _time_passes() -> None:
    """Every retry wait is over."""
    OutboxMessage.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def _row() -> OutboxMessage:
    return OutboxMessage.objects.get()


# -- F19: 4xx is retried, 5xx is final -----------------------------------------------------


@pytest.mark.parametrize("refusal", ["421 at connect", "451 after DATA", "421 after DATA"])
def test_a_temporary_refusal_is_retried_later_and_the_reply_sent_once(
    make_mailbox: Callable[..., Mailbox],
    imap_account: ImapAccount,
    smtp_server: SmtpSink,
    busy_sink: BusyGreetingSink,
    refusal: str,
) -> None:
    if refusal == "421 at connect":
        sink: SmtpSink = busy_sink
        busy_sink.busy = 1
    else:
        sink = smtp_server
        sink.script([refusal.replace("after DATA", "4.3.0 try again later")])
    _reply_queued(make_mailbox, imap_account, smtp_port=sink.port)

    sync_once()
    row = _row()
    assert row.state == OutboxState.PENDING and row.attempts == 1
    assert refusal[:3] in row.last_error
    assert row.next_attempt_at is not None and row.next_attempt_at > timezone.now()
    assert sink.accepted == []
    sync_once()  # too early: the retry waits
    assert _row().attempts == 1

    _time_passes()
    sync_once()
    row = _row()
    assert row.state == OutboxState.SENT and row.attempts == 2
    _time_passes()
    sync_once()
    (delivered,) = sink.accepted
    assert message_from_bytes(delivered.data)["Message-ID"] == row.message_id
    if refusal == "421 at connect":
        assert busy_sink.turned_away == 1 and len(sink.messages) == 1
    else:
        assert [m.reply[:3] for m in sink.messages] == [refusal[:3], "250"]


@pytest.mark.parametrize("where", ["DATA", "RCPT"])
def test_a_permanent_refusal_is_tried_once_and_the_reply_failed(
    make_mailbox: Callable[..., Mailbox],
    imap_account: ImapAccount,
    smtp_server: SmtpSink,
    where: str,
) -> None:
    if where == "DATA":
        smtp_server.script(["550 5.7.1 message refused"])
    else:
        smtp_server.reject_rcpt("customer1@customer.test", "550 5.1.1 no such user")
    _reply_queued(make_mailbox, imap_account)

    for _ in range(3):
        sync_once()
        _time_passes()
    jobs.sweep()

    row = _row()
    assert row.state == OutboxState.FAILED and row.attempts == 1
    assert "550" in row.last_error
    assert len(smtp_server.messages) == (1 if where == "DATA" else 0)
    assert smtp_server.accepted == []


def test_temporary_refusals_are_retried_a_bounded_number_of_times(
    make_mailbox: Callable[..., Mailbox], imap_account: ImapAccount, smtp_server: SmtpSink
) -> None:
    smtp_server.script(["451 4.3.0 try again later"] * (MAX_ATTEMPTS + 3))
    _reply_queued(make_mailbox, imap_account)

    for _ in range(MAX_ATTEMPTS + 3):
        sync_once()
        _time_passes()

    row = _row()
    assert row.state == OutboxState.FAILED and row.attempts == MAX_ATTEMPTS
    assert len(smtp_server.messages) == MAX_ATTEMPTS


# -- F20: the ambiguity window -------------------------------------------------------------


def test_a_connection_dropped_after_data_abandons_the_reply_alerts_and_never_resends(
    make_mailbox: Callable[..., Mailbox], imap_account: ImapAccount, smtp_server: SmtpSink
) -> None:
    smtp_server.script([DROP])
    mailbox = _reply_queued(make_mailbox, imap_account)

    sync_once()
    row = _row()
    assert row.state == OutboxState.ABANDONED and row.data_started_at is not None
    assert open_alerts(mailbox, f"abandoned:{row.pk}") == 1
    for _ in range(3):
        _time_passes()
        jobs.sweep()
        sync_once()

    assert _row().state == OutboxState.ABANDONED
    assert [m.reply for m in smtp_server.messages] == [DROP]  # handed over once, never again
    assert open_alerts(mailbox, f"abandoned:{row.pk}") == 1


class _Killed(BaseException):
    """The worker process dies here: nothing after this line runs, no handler catches it."""


@pytest.mark.parametrize("moment", ["before the envelope", "after 250, before the commit"])
def test_a_send_killed_mid_way_is_retried_before_data_and_abandoned_after(
    make_mailbox: Callable[..., Mailbox],
    imap_account: ImapAccount,
    smtp_server: SmtpSink,
    monkeypatch: pytest.MonkeyPatch,
    moment: str,
) -> None:
    mailbox = _reply_queued(make_mailbox, imap_account)
    connection = MailboxConnection.objects.filter(mailbox=mailbox)
    connection.update(smtp_enabled=False)  # the reply is queued but not sent yet
    sync_once()
    connection.update(smtp_enabled=True)
    row = _row()
    real_send = outbox_send.send_message

    def killed(*args: Any, **kwargs: Any) -> None:
        if moment == "after 250, before the commit":
            real_send(*args, **kwargs)
        raise _Killed

    monkeypatch.setattr(outbox_send, "send_message", killed)
    with pytest.raises(_Killed):
        send_outbox(row.pk)
    monkeypatch.setattr(outbox_send, "send_message", real_send)
    row.refresh_from_db()
    assert row.state == OutboxState.SENDING
    assert (row.data_started_at is None) == (moment == "before the envelope")

    # While the dead worker's lease lasts, nobody touches the row.
    jobs.sweep()
    assert _row().state == OutboxState.SENDING
    # The lease runs out: the sweep finds the row, then the sends that are due go out.
    OutboxMessage.objects.update(lease_until=timezone.now() - timedelta(seconds=1))
    jobs.sweep()
    for outbox_id in due_outbox_ids():
        send_outbox(outbox_id)
    sync_once()

    row.refresh_from_db()
    assert len(smtp_server.accepted) == 1
    if moment == "before the envelope":
        assert row.state == OutboxState.SENT
        assert open_alerts(mailbox, f"abandoned:{row.pk}") == 0
    else:
        assert row.state == OutboxState.ABANDONED
        assert open_alerts(mailbox, f"abandoned:{row.pk}") == 1


# -- F21: no ghost send --------------------------------------------------------------------


class _Rollback(Exception):
    pass


@pytest.mark.django_db(transaction=True)
def test_a_reply_queued_in_a_transaction_that_rolls_back_is_never_sent(
    make_mailbox: Callable[..., Mailbox], smtp_server: SmtpSink
) -> None:
    mailbox = make_mailbox()
    answering_rule(mailbox)
    message = store_one(
        mailbox.folders.get(name="INBOX"), 1, customer_mail(1), internal_date=timezone.now()
    )
    assert message is not None
    executor = EmbeddedExecutor()
    executor.start()
    set_executor(executor)
    try:
        # Processing queues the reply and enqueues its send, then the transaction fails.
        with pytest.raises(_Rollback), transaction.atomic():
            process_messages([message.pk])
            assert OutboxMessage.objects.count() == 1
            raise _Rollback
        assert executor.wait_idle(10)
        time.sleep(0.5)  # a send that was enqueued anyway would reach the sink by now
        assert smtp_server.messages == []
        assert not OutboxMessage.objects.exists()
        assert ProcessingRecord.objects.get().state == ProcessingState.PENDING

        # The same work committed: the executor sends it, once.
        process_messages([message.pk])
        smtp_server.wait_for(1, timeout=10)
        assert executor.wait_idle(10)
    finally:
        set_executor(None)
        executor.stop()
    assert len(smtp_server.accepted) == 1
    assert OutboxMessage.objects.get().state == OutboxState.SENT
    assert Message.objects.count() == 1
