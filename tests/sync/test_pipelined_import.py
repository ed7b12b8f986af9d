"""A large import downloads the next chunk on a second thread while the current one is stored:
it stores everything once and in order, and stops cleanly when the storing side fails."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from mailroom import conf
from mailroom.models import Folder, Mailbox, Message, ProcessingRecord
from mailroom.store import incoming
from mailroom.store.incoming import LeaseLost
from mailroom.sync.mailbox import sync_mailbox
from tests.servers.fixtures import ImapAccount

pytestmark = pytest.mark.django_db


def _mail(n: int) -> bytes:
    return (
        b"From: d@customer.test\r\nSubject: chunk %d\r\nMessage-ID: <c%d@x.test>\r\n\r\nhi\r\n"
        % (
            n,
            n,
        )
    )


def test_it_stores_a_folder_larger_than_one_batch_once_and_in_order(
    make_mailbox: Callable[..., Mailbox],
    imap_account: ImapAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(conf, "FETCH_BATCH", 3)
    mailbox = make_mailbox()
    uids = [imap_account.append("INBOX", _mail(n)) for n in range(11)]
    chunks: list[list[int]] = []

    report = sync_mailbox(mailbox.pk, on_stored=chunks.append)

    assert report.error == "" and report.stored == 11
    stored = list(Message.objects.order_by("id").values_list("uid", flat=True))
    assert stored == uids
    assert len(chunks) == 4  # 3 + 3 + 3 + 2
    assert ProcessingRecord.objects.count() == 11
    folder = mailbox.folders.get()
    assert folder.last_uid == uids[-1] and folder.imported == 11 and folder.backlog == 0
    assert not [t for t in threading.enumerate() if t.name == "mailroom-download"]


def test_a_failure_while_storing_stops_the_download_and_keeps_what_was_stored(
    make_mailbox: Callable[..., Mailbox],
    imap_account: ImapAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(conf, "FETCH_BATCH", 2)
    mailbox = make_mailbox()
    uids = [imap_account.append("INBOX", _mail(100 + n)) for n in range(9)]
    real_store = incoming.store_chunk
    calls = 0

    def lose_the_lease_on_the_third_chunk(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise LeaseLost("another sync took the folder over")
        return real_store(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("mailroom.sync.folder.store_chunk", lose_the_lease_on_the_third_chunk)
    report = sync_mailbox(mailbox.pk)

    assert "took the folder over" in report.error
    assert list(Message.objects.order_by("uid").values_list("uid", flat=True)) == uids[:4]
    folder = Folder.objects.get(pk=mailbox.folders.get().pk)
    assert folder.last_uid == uids[3] and folder.lease_owner == ""
    assert not [t for t in threading.enumerate() if t.name == "mailroom-download"]

    monkeypatch.setattr("mailroom.sync.folder.store_chunk", real_store)
    sync_mailbox(mailbox.pk)
    assert list(Message.objects.order_by("uid").values_list("uid", flat=True)) == uids
