"""A send that talks to a slow SMTP server longer than its lease lasts keeps its row: the
sweep's crash recovery must not take a live send for a dead one (and abandon a reply that is
being delivered)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from django.db import connections
from django.utils import timezone

from mailroom import conf
from mailroom.models import Alert, Mailbox, OutboxMessage, OutboxState
from mailroom.outbox.send import recover_interrupted, send_outbox
from mailroom.pipeline.engine import process_messages
from tests.faults.helpers import answering_rule, customer_mail
from tests.servers.smtp import SmtpSink
from tests.storing import store_one

pytestmark = pytest.mark.django_db(transaction=True)

LEASE = 1  # second


def test_a_send_slower_than_its_lease_is_not_recovered_as_interrupted(
    make_mailbox: Callable[..., Mailbox],
    smtp_server: SmtpSink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mailbox = make_mailbox()
    answering_rule(mailbox)
    message = store_one(mailbox.folders.get(), 1, customer_mail(1), internal_date=timezone.now())
    assert message is not None
    process_messages([message.pk])
    row = OutboxMessage.objects.get()
    monkeypatch.setattr(conf, "LEASE_SECONDS", LEASE)
    smtp_server.data_delay = LEASE * 3

    def send() -> None:
        try:
            send_outbox(row.pk)
        finally:
            connections.close_all()

    sender = threading.Thread(target=send)
    sender.start()
    deadline = time.monotonic() + 10
    while not OutboxMessage.objects.filter(pk=row.pk, data_started_at__isnull=False).exists():
        assert time.monotonic() < deadline, "the message data never started to go out"
        time.sleep(0.05)
    time.sleep(LEASE * 1.5)  # past the lease's first term, the server still thinking

    found = recover_interrupted()  # what the sweep does every few seconds

    sender.join(15)
    assert found == 0
    row.refresh_from_db()
    assert row.state == OutboxState.SENT
    assert len(smtp_server.accepted) == 1
    assert not Alert.objects.filter(key__startswith="abandoned:").exists()
