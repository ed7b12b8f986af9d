"""A sync that works longer than its lease lasts keeps its folder: the lease is renewed while
it works, not only when a chunk is stored; a killed sync's lease still runs out."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from mailroom import conf
from mailroom.leases import LeaseKeeper, new_owner
from mailroom.models import Folder, Mailbox, Message
from mailroom.sync.folder import FOLDER_LEASE
from mailroom.sync.mailbox import sync_mailbox
from mailroom.transport.imap import ImapSession
from tests.servers.fixtures import ImapAccount

pytestmark = pytest.mark.django_db(transaction=True)

LEASE = 1  # second


def _mail(n: int) -> bytes:
    return (
        b"From: c%d@customer.test\r\nSubject: slow %d\r\nMessage-ID: <s%d@x.test>\r\n\r\nhi\r\n"
        % (
            n,
            n,
            n,
        )
    )


def test_a_download_slower_than_the_lease_still_stores_its_chunk(
    make_mailbox: Callable[..., Mailbox],
    imap_account: ImapAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mailbox = make_mailbox()
    for n in range(3):
        imap_account.append("INBOX", _mail(n))
    monkeypatch.setattr(conf, "LEASE_SECONDS", LEASE)
    real_bodies = ImapSession.bodies

    def slow_bodies(self: ImapSession, *args: Any, **kwargs: Any) -> Any:
        time.sleep(LEASE * 2.5)  # a slow server: the download outlasts the lease twice over
        return real_bodies(self, *args, **kwargs)

    monkeypatch.setattr(ImapSession, "bodies", slow_bodies)

    report = sync_mailbox(mailbox.pk)

    assert report.error == ""
    assert report.stored == 3
    assert Message.objects.count() == 3
    folder = Folder.objects.get(mailbox=mailbox, name="INBOX")
    assert (folder.lease_owner, folder.lease_until) == ("", None)  # given back at the end


def test_the_keeper_renews_while_its_block_runs_and_not_after(
    make_mailbox: Callable[..., Mailbox],
) -> None:
    folder = make_mailbox().folders.get()
    owner = new_owner()
    ttl = timedelta(seconds=0.6)
    assert FOLDER_LEASE.claim(folder.pk, owner, ttl)
    with LeaseKeeper(FOLDER_LEASE, folder.pk, owner, ttl):
        time.sleep(1.5)
        assert Folder.objects.filter(FOLDER_LEASE.held_by(owner), pk=folder.pk).exists()
    time.sleep(1.0)
    # Nobody renews it now: it has run out and another holder may claim it.
    assert not Folder.objects.filter(FOLDER_LEASE.held_by(owner), pk=folder.pk).exists()
    assert FOLDER_LEASE.claim(folder.pk, new_owner(), ttl)
