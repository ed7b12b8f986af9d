"""An IDLE watcher syncs announced mail over its own connection, and stops at once when told,
without taking its own hang-up for a server failure."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from mailroom.models import Mailbox, MailboxStatus, Message
from mailroom.watch.idle import IdleWatcher
from tests.servers.fixtures import ImapAccount

pytestmark = pytest.mark.django_db(transaction=True)

MAIL = b"From: e@customer.test\r\nSubject: pushed\r\nMessage-ID: <p@x.test>\r\n\r\nhi\r\n"


def _until(predicate: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.05)


def test_it_fetches_announced_mail_and_stops_at_once(
    make_mailbox: Callable[..., Mailbox], imap_account: ImapAccount
) -> None:
    mailbox = make_mailbox()
    folder = mailbox.folders.get()
    stored: list[int] = []
    watcher = IdleWatcher(mailbox.pk, folder.pk, stored.extend)
    watcher.start()
    try:
        _until(lambda: imap_account.server.login_count(imap_account.username) >= 1, 10)
        time.sleep(0.5)  # let it enter IDLE
        imap_account.append("INBOX", MAIL)
        _until(lambda: len(stored) == 1, 10)
        assert Message.objects.get().subject == "pushed"
        logins = imap_account.server.login_count(imap_account.username)
    finally:
        started = time.monotonic()
        watcher.stop()
        watcher.join(5)
    # Woken out of IDLE by stop(), not by its 30-second tick; no second login was needed.
    assert not watcher.is_alive()
    assert time.monotonic() - started < 3
    assert logins == 2  # the fixture's APPEND and the watcher
    mailbox.refresh_from_db()
    assert mailbox.status == MailboxStatus.OK
