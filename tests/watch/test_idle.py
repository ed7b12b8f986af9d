"""An IDLE watcher syncs announced mail over its own connection, and stops at once when told,
without taking its own hang-up for a server failure."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from prometheus_client import REGISTRY

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

    def pushes() -> tuple[float, float]:
        count = REGISTRY.get_sample_value("mailroom_push_seconds_count") or 0.0
        return count, REGISTRY.get_sample_value("mailroom_push_seconds_sum") or 0.0

    before = pushes()
    watcher = IdleWatcher(mailbox.pk, folder.pk, stored.extend)
    watcher.start()
    try:
        _until(lambda: imap_account.server.login_count(imap_account.username) >= 1, 10)
        time.sleep(0.5)  # let it enter IDLE
        imap_account.append("INBOX", MAIL)
        _until(lambda: len(stored) == 1, 10)
        # The push latency was observed once, from the server's notice to the stored row.
        count, seconds = pushes()
        assert count - before[0] == 1
        assert 0 < seconds - before[1] < 5
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


def test_mail_that_arrives_while_a_push_is_being_synced_is_not_left_behind(
    make_mailbox: Callable[..., Mailbox],
    imap_account: ImapAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mailroom.transport.imap import ImapSession

    mailbox = make_mailbox()
    real_bodies = ImapSession.bodies
    arrived_during_sync: list[int] = []

    def slow_bodies(self: ImapSession, uids: list[int]) -> dict[int, bytes]:
        # The second message lands after this sync's search: the server announces it inside
        # this sync's replies and will not repeat it when IDLE starts again.
        if not arrived_during_sync:
            arrived_during_sync.append(imap_account.append("INBOX", MAIL.replace(b"<p@", b"<q@")))
            time.sleep(0.2)
        return real_bodies(self, uids)

    monkeypatch.setattr(ImapSession, "bodies", slow_bodies)
    stored: list[int] = []
    watcher = IdleWatcher(mailbox.pk, mailbox.folders.get().pk, stored.extend)
    watcher.start()
    try:
        _until(lambda: imap_account.server.login_count(imap_account.username) >= 1, 10)
        time.sleep(0.5)
        imap_account.append("INBOX", MAIL)
        # Both within a few seconds, though no third message ever comes to wake IDLE again.
        _until(lambda: len(stored) == 2, 8)
    finally:
        watcher.stop()
        watcher.join(5)
    assert Message.objects.count() == 2


def test_a_push_waits_for_a_folder_held_by_another_sync_instead_of_dropping_it(
    make_mailbox: Callable[..., Mailbox], imap_account: ImapAccount
) -> None:
    from datetime import timedelta

    from mailroom.leases import new_owner
    from mailroom.sync.folder import FOLDER_LEASE

    mailbox = make_mailbox()
    folder = mailbox.folders.get()
    stored: list[int] = []
    watcher = IdleWatcher(mailbox.pk, folder.pk, stored.extend)
    watcher.start()
    try:
        _until(lambda: imap_account.server.login_count(imap_account.username) >= 1, 10)
        time.sleep(0.5)
        other = new_owner()
        assert FOLDER_LEASE.claim(folder.pk, other, timedelta(seconds=30))
        imap_account.append("INBOX", MAIL)
        time.sleep(1.5)
        assert stored == []  # the manual sync holds the folder
        FOLDER_LEASE.release(folder.pk, other)
        _until(lambda: len(stored) == 1, 5)
    finally:
        watcher.stop()
        watcher.join(5)
