"""Watch processes share the mailboxes: an even split within capacities, a newcomer gets its
part, a dead one's part is taken over."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from mailroom.mailboxes.actions import MailboxInput, save_mailbox, set_folders
from mailroom.models import Mailbox, WatchProcess
from mailroom.tasks.executor import EmbeddedExecutor
from mailroom.watch.shares import fair_shares
from mailroom.watch.supervisor import Supervisor

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("total", "capacities", "expected"),
    [
        (10, {"a": 100, "b": 100}, {"a": 5, "b": 5}),
        (11, {"a": 100, "b": 100}, {"a": 6, "b": 5}),
        (60, {"a": 25, "b": 50}, {"a": 25, "b": 35}),
        (100, {"a": 10, "b": 20, "c": 30}, {"a": 10, "b": 20, "c": 30}),
        (3, {"a": 5, "b": 5, "c": 5, "d": 5}, {"a": 1, "b": 1, "c": 1, "d": 0}),
        (0, {"a": 5}, {"a": 0}),
    ],
)
def test_fair_shares_split_evenly_within_capacities(
    total: int, capacities: dict[str, int], expected: dict[str, int]
) -> None:
    shares = fair_shares(total, capacities)
    assert shares == expected
    assert sum(shares.values()) == min(total, sum(capacities.values()))


def _mailboxes(count: int) -> None:
    for n in range(count):
        box = save_mailbox(
            MailboxInput(label=f"Box {n}", email=f"box{n}@example.test", imap_host="imap.test"),
            password="pw",
        )
        set_folders(box, known=["INBOX"], selected=["INBOX"])
    # One with nothing selected is not worth a watcher.
    idle = save_mailbox(
        MailboxInput(label="Idle", email="idle@example.test", imap_host="imap.test"), password="pw"
    )
    set_folders(idle, known=["INBOX"], selected=[])


def _held(supervisor: Supervisor) -> int:
    return Mailbox.objects.filter(watch_owner=supervisor.owner).count()


def test_watchers_split_the_mailboxes_and_take_over_a_dead_ones_share() -> None:
    _mailboxes(10)
    executor = EmbeddedExecutor()
    first = Supervisor(executor, capacity=1000)
    second = Supervisor(executor, capacity=1000)

    first._held()
    assert _held(first) == 10  # alone: all that can be watched

    second._held()  # registers; nothing free yet
    first._held()  # sees two watchers: gives half back
    second._held()  # claims it
    assert (_held(first), _held(second)) == (5, 5)
    for _ in range(3):  # stable: nothing handed back and forth
        first._held()
        second._held()
    assert (_held(first), _held(second)) == (5, 5)

    # The second is killed: its row and leases are no longer renewed and run out.
    past = timezone.now() - timedelta(seconds=1)
    WatchProcess.objects.filter(owner=second.owner).update(until=past)
    Mailbox.objects.filter(watch_owner=second.owner).update(watch_until=past)
    first._held()
    assert _held(first) == 10
    assert not WatchProcess.objects.filter(owner=second.owner).exists()


def test_capacity_bounds_a_watchers_share() -> None:
    _mailboxes(10)
    executor = EmbeddedExecutor()
    small = Supervisor(executor, capacity=3)
    large = Supervisor(executor, capacity=1000)
    small._held()
    large._held()
    small._held()
    large._held()
    assert (_held(small), _held(large)) == (3, 7)
