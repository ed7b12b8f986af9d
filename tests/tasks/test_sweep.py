"""The sweep finds work whose task was lost and enqueues it again, and nothing else."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from mailroom.models import Folder, Message, OutboxMessage, OutboxState, ProcessingRecord
from mailroom.tasks import jobs
from mailroom.tasks.dispatch import set_executor
from tests.pipeline.helpers import MAIL, mailbox, stored

pytestmark = pytest.mark.django_db


class Recorder:
    """An executor that only notes what it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[object, ...]]] = []

    def submit(self, name: str, *args: object) -> None:
        self.calls.append((name, args))


@pytest.fixture
def recorder() -> Any:
    executor = Recorder()
    set_executor(executor)
    yield executor
    set_executor(None)


def test_it_enqueues_stale_pending_messages_due_folders_and_due_replies(
    recorder: Recorder, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    box = mailbox()
    old, fresh = stored(box), stored(box, MAIL.replace(b"p-1@", b"p-2@"))
    Message.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(minutes=5))
    folder = box.folders.get()
    Folder.objects.filter(pk=folder.pk).update(next_poll_at=timezone.now() - timedelta(seconds=1))
    due = OutboxMessage.objects.create(
        mailbox=box, message_id="<a@x>", to_email="a@x.test", raw=b""
    )
    OutboxMessage.objects.create(
        mailbox=box,
        message_id="<b@x>",
        to_email="b@x.test",
        raw=b"",
        next_attempt_at=timezone.now() + timedelta(hours=1),
    )

    with django_capture_on_commit_callbacks(execute=True):
        jobs.sweep()

    assert ("sync_folder", (folder.pk,)) in recorder.calls
    assert ("send_outbox", (due.pk,)) in recorder.calls
    processing = [args[0] for name, args in recorder.calls if name == "process_messages"]
    # The fresh message is probably still in a queue: left to its own task.
    assert processing == [(old.pk,)]
    assert fresh.pk not in processing[0]
    assert len([c for c in recorder.calls if c[0] == "send_outbox"]) == 1


def test_it_retries_a_send_killed_before_its_data_and_abandons_one_killed_after(
    recorder: Recorder, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    box = mailbox()
    gone = timezone.now() - timedelta(seconds=1)
    before = OutboxMessage.objects.create(
        mailbox=box, message_id="<c@x>", to_email="c@x.test", raw=b"",
        state=OutboxState.SENDING, lease_owner="dead", lease_until=gone,
    )  # fmt: skip
    after = OutboxMessage.objects.create(
        mailbox=box, message_id="<d@x>", to_email="d@x.test", raw=b"",
        state=OutboxState.SENDING, lease_owner="dead", lease_until=gone, data_started_at=gone,
    )  # fmt: skip

    with django_capture_on_commit_callbacks(execute=True):
        jobs.sweep()

    before.refresh_from_db()
    after.refresh_from_db()
    assert before.state == OutboxState.PENDING
    assert ("send_outbox", (before.pk,)) in recorder.calls
    assert after.state == OutboxState.ABANDONED
    assert ("send_outbox", (after.pk,)) not in recorder.calls
    assert box.alerts.filter(key=f"abandoned:{after.pk}").count() == 1
    assert not ProcessingRecord.objects.exists()
