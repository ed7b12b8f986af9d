"""A refused reply stays visible and is sent again on request; one whose outcome is unknown
only after a warning; a failed copy to Sent is recorded and retried by itself, never sending
the mail again."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest

from mailroom.models import MailboxConnection, OutboxMessage, OutboxState, SentCopy
from mailroom.outbox.send import due_outbox_ids
from mailroom.tasks.jobs import sweep
from tests.replies.conftest import Rig, Tasks
from tests.servers.smtp import DROP


def _page(rig: Rig) -> str:
    return rig.client(rig.reader).get(f"/messages/{rig.message.pk}/reply/").content.decode()


def test_a_refused_reply_is_shown_and_sent_again_on_request(rig: Rig, tasks: Tasks) -> None:
    rig.sink.script(["550 5.7.1 relaying denied"])
    row = rig.reply(tasks)
    assert row.state == OutboxState.FAILED
    assert row.sent_copy == SentCopy.PENDING  # nothing to copy: nothing was sent
    assert rig.sent_folder("Sent") == []
    page = _page(rig)
    assert f'id="reply-{row.pk}" data-state="failed"' in page
    assert "550 5.7.1 relaying denied" in page and "Send again" in page

    response = rig.client(rig.reader).post(f"/replies/{row.pk}/retry/")
    assert response.status_code == 302
    assert response["Location"] == f"/messages/{rig.message.pk}/"
    tasks.run()
    row.refresh_from_db()
    assert row.state == OutboxState.SENT, row.last_error
    assert [mail.reply for mail in rig.sink.messages] == ["550 5.7.1 relaying denied", "250 OK"]
    assert row.sent_copy == SentCopy.SAVED
    assert len(rig.sent_folder("Sent")) == 1


def test_a_deferred_reply_waits_for_its_retry(rig: Rig, tasks: Tasks) -> None:
    rig.sink.script(["451 4.3.0 try again later"])
    row = rig.reply(tasks)
    assert row.state == OutboxState.PENDING
    assert row.next_attempt_at is not None
    assert "451 4.3.0" in row.last_error
    assert "Waiting to retry" in _page(rig)
    # The retry button is for refused replies; this one's retry is already planned.
    response = rig.client(rig.reader).post(f"/replies/{row.pk}/retry/", follow=True)
    assert "not waiting for a retry" in response.content.decode()
    assert tasks.waiting == []


def test_a_reply_of_unknown_outcome_is_sent_again_only_when_confirmed(
    rig: Rig, tasks: Tasks
) -> None:
    rig.sink.script([DROP])
    row = rig.reply(tasks)
    assert row.state == OutboxState.ABANDONED
    assert "It may arrive twice" in _page(rig)

    response = rig.client(rig.reader).post(f"/replies/{row.pk}/retry/", follow=True)
    assert "may have been delivered already" in response.content.decode()
    row.refresh_from_db()
    assert row.state == OutboxState.ABANDONED and tasks.waiting == []

    rig.client(rig.reader).post(f"/replies/{row.pk}/retry/", {"confirm": "1"})
    tasks.run()
    row.refresh_from_db()
    assert row.state == OutboxState.SENT
    # Sent again with the same Message-ID, so mail programs show it once.
    first, second = rig.sink.messages
    assert first.data == second.data


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_failed_copy_is_recorded_and_retried_without_sending_again(
    rig: Rig, tasks: Tasks
) -> None:
    # The IMAP server cannot be reached when the copy is made; SMTP works.
    connection = MailboxConnection.objects.get(mailbox=rig.mailbox)
    port = connection.imap_port
    MailboxConnection.objects.filter(pk=connection.pk).update(imap_port=_unused_port())
    row = rig.reply(tasks)
    assert row.state == OutboxState.SENT
    assert row.sent_copy == SentCopy.FAILED
    assert row.sent_copy_error
    page = _page(rig)
    assert "Copy to Sent failed" in page and "Copy to Sent again" in page
    # Not due by itself: a failed copy waits for a person.
    assert row.pk not in due_outbox_ids()

    MailboxConnection.objects.filter(pk=connection.pk).update(imap_port=port)
    rig.client(rig.reader).post(f"/replies/{row.pk}/copy/")
    tasks.run()
    row.refresh_from_db()
    assert row.sent_copy == SentCopy.SAVED and row.sent_copy_folder == "Sent"
    assert len(rig.sent_folder("Sent")) == 1
    assert len(rig.sink.messages) == 1


def test_a_configured_folder_that_is_missing_fails_the_copy_with_the_reason(
    make_rig: Callable[..., Rig], tasks: Tasks
) -> None:
    rig = make_rig(sent_folder="Replies")
    row = rig.reply(tasks)
    assert row.state == OutboxState.SENT
    assert row.sent_copy == SentCopy.FAILED
    assert row.sent_copy_error == "the Sent folder “Replies” set for this mailbox does not exist"

    rig.account.create_folder("Replies")
    rig.client(rig.reader).post(f"/replies/{row.pk}/copy/")
    tasks.run()
    row.refresh_from_db()
    assert row.sent_copy == SentCopy.SAVED and row.sent_copy_folder == "Replies"
    assert len(rig.sent_folder("Replies")) == 1 and rig.sent_folder("Sent") == []
    assert len(rig.sink.messages) == 1


def test_a_copy_an_earlier_attempt_saved_is_not_saved_twice(rig: Rig, tasks: Tasks) -> None:
    row = rig.reply(tasks)
    assert row.sent_copy == SentCopy.SAVED
    # The copy was made but its record lost (a worker killed right after the APPEND).
    OutboxMessage.objects.filter(pk=row.pk).update(sent_copy=SentCopy.PENDING)
    assert row.pk in due_outbox_ids()
    sweep()
    tasks.run()
    row.refresh_from_db()
    assert row.sent_copy == SentCopy.SAVED
    assert len(rig.sent_folder("Sent")) == 1
    assert len(rig.sink.messages) == 1


def test_an_unexpected_error_in_the_copy_is_recorded_not_retried_forever(
    rig: Rig, tasks: Tasks, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> str:
        raise RuntimeError("a bug")

    monkeypatch.setattr("mailroom.replies.sent_copy.choose_sent_folder", broken)
    row = rig.reply(tasks)
    assert row.state == OutboxState.SENT
    assert row.sent_copy == SentCopy.FAILED
    assert row.sent_copy_error == "an unexpected error; see the server log"
    assert row.lease_owner == "" and row.pk not in due_outbox_ids()
    assert len(rig.sink.messages) == 1
