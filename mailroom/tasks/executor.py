"""The embedded task executor: a pool of worker threads per queue, running registry tasks.

In the scale-out shape Celery runs the same functions; here in-process queues do. Each queue
(sync, process, send, sweep) has its own workers, so a slow SMTP server or a big first import
never holds up another mailbox's mail. A task already waiting is not queued twice (a burst of
notifications for one folder becomes one sync). Durable state is in the database, so what is
lost with the queues at a stop is found again by the next sweep.
"""

from __future__ import annotations

import logging
import queue
import threading

from django.db import close_old_connections

from mailroom.tasks.jobs import TryLater
from mailroom.tasks.registry import QUEUES, TASKS

logger = logging.getLogger(__name__)

Key = tuple[str, tuple[object, ...]]
_STOP: Key = ("", ())


class EmbeddedExecutor:
    """Runs submitted tasks on per-queue worker threads."""

    def __init__(self, workers: dict[str, int] | None = None) -> None:
        self._workers = workers or QUEUES
        self._queues: dict[str, queue.Queue[Key]] = {name: queue.Queue() for name in self._workers}
        self._waiting: set[Key] = set()
        self._running = 0
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start the worker threads."""
        for name, count in self._workers.items():
            for index in range(count):
                thread = threading.Thread(
                    target=self._work, args=(name,), name=f"mailroom-{name}-{index}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def submit(self, name: str, *args: object) -> None:
        """Queue ``TASKS[name](*args)`` unless the same task is already waiting."""
        task = TASKS[name]
        key: Key = (name, args)
        with self._lock:
            if key in self._waiting:
                return
            self._waiting.add(key)
        self._queues[task.queue].put(key)

    def _work(self, queue_name: str) -> None:
        tasks = self._queues[queue_name]
        while True:
            key = tasks.get()
            if key == _STOP:
                return
            with self._lock:
                self._waiting.discard(key)
                self._running += 1
            name, args = key
            if TASKS[name].merges:
                args, stop = self._merge(tasks, name, args)
                if stop:
                    tasks.put(_STOP)
            try:
                TASKS[name].run(*args)
            except TryLater as later:
                timer = threading.Timer(later.seconds, self.submit, (name, *later.task_args))
                timer.daemon = True
                timer.start()
            except Exception:
                logger.exception("task %s%s failed", name, args)
            finally:
                close_old_connections()
                with self._lock:
                    self._running -= 1
                    self._idle.notify_all()

    # The most ids one merged run takes.
    MERGE_LIMIT = 1000

    def _merge(
        self, tasks: queue.Queue[Key], name: str, args: tuple[object, ...]
    ) -> tuple[tuple[object, ...], bool]:
        """Add the ids of the same task waiting right behind this one; other tasks go back."""
        ids: list[object] = list(args[0]) if args and isinstance(args[0], tuple) else []
        if not ids:
            return args, False
        others: list[Key] = []
        stop = False
        while len(ids) < self.MERGE_LIMIT:
            try:
                key = tasks.get_nowait()
            except queue.Empty:
                break
            if key == _STOP:
                stop = True
                break
            with self._lock:
                self._waiting.discard(key)
            other_name, other_args = key
            if other_name == name and other_args and isinstance(other_args[0], tuple):
                ids.extend(other_args[0])
            else:
                others.append(key)
        for key in others:
            with self._lock:
                self._waiting.add(key)
            tasks.put(key)
        return (tuple(ids),), stop

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no task is waiting or running; False on timeout."""
        with self._lock:
            return self._idle.wait_for(
                lambda: not self._waiting and self._running == 0, timeout=timeout
            )

    def stop(self, timeout: float = 60.0) -> None:
        """Finish the running tasks, drop the waiting ones, and end the threads."""
        with self._lock:
            self._waiting.clear()
        for tasks in self._queues.values():
            while True:
                try:
                    tasks.get_nowait()
                except queue.Empty:
                    break
        for name, count in self._workers.items():
            for _ in range(count):
                self._queues[name].put(_STOP)
        for thread in self._threads:
            thread.join(timeout)
