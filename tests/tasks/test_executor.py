"""The embedded executor: one pool per queue, duplicates coalesced, id batches merged."""

from __future__ import annotations

import threading

import pytest

from mailroom.tasks.executor import EmbeddedExecutor
from mailroom.tasks.registry import TASKS, Task


def test_waiting_batches_of_ids_run_as_one_and_other_queues_are_not_held_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    release = threading.Event()
    runs: list[tuple[int, ...]] = []
    sent: list[int] = []

    def process(ids: tuple[int, ...]) -> None:
        runs.append(ids)
        if ids == (1,):
            release.wait(5)  # the first batch is slow; the rest pile up behind it

    monkeypatch.setitem(
        TASKS, "process_messages", Task("process_messages", "process", process, merges=True)
    )
    monkeypatch.setitem(TASKS, "send_outbox", Task("send_outbox", "send", sent.append))
    executor = EmbeddedExecutor({"process": 1, "send": 1})
    executor.start()
    try:
        executor.submit("process_messages", (1,))
        for _ in range(100):
            if runs:
                break
            release.wait(0.02)
        for n in range(2, 6):
            executor.submit("process_messages", (n,))
        executor.submit("send_outbox", 9)
        # The slow processing does not delay the send queue.
        deadline = threading.Event()
        for _ in range(50):
            if sent:
                break
            deadline.wait(0.05)
        assert sent == [9]
        release.set()
        assert executor.wait_idle(5)
    finally:
        executor.stop(5)
    assert runs[0] == (1,)
    assert sorted(n for batch in runs[1:] for n in batch) == [2, 3, 4, 5]
    assert len(runs) == 2


def test_the_same_task_waiting_twice_runs_once(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    calls: list[int] = []

    def sync(folder_id: int) -> None:
        calls.append(folder_id)
        release.wait(5)

    monkeypatch.setitem(TASKS, "sync_folder", Task("sync_folder", "sync", sync))
    executor = EmbeddedExecutor({"sync": 1})
    executor.start()
    try:
        executor.submit("sync_folder", 1)  # running
        for _ in range(5):
            executor.submit("sync_folder", 2)  # one waiting copy
        release.set()
        assert executor.wait_idle(5)
    finally:
        executor.stop(5)
    assert calls == [1, 2]
