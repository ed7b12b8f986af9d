"""The embedded task executor: one worker thread running task functions by name.

In the scale-out shape Celery runs the same functions; here a queue does. Tasks carry ids only,
and a task already waiting is not queued twice (a burst of IDLE notifications for one mailbox
becomes one pass). Durable state is in the database, so what is lost with the queue at a stop
is found again by the next pass.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from django.db import close_old_connections

from mailroom.tasks.passes import run_pass

logger = logging.getLogger(__name__)


def _pass(mailbox_id: int | None) -> None:
    report = run_pass(mailbox_id)
    if report.stored or report.sent or any(m.error for m in report.mailboxes):
        logger.info(
            "pass over %s: %s stored, %s processed, %s sent%s",
            "all mailboxes" if mailbox_id is None else f"mailbox {mailbox_id}",
            report.stored,
            report.processed,
            report.sent,
            "".join(f"; mailbox {m.mailbox_id}: {m.error}" for m in report.mailboxes if m.error),
        )


# Task name -> function. Arguments are ids (or None for "all").
TASKS: dict[str, Callable[[int | None], None]] = {"run_pass": _pass}

_STOP = ("", None)


class EmbeddedExecutor(threading.Thread):
    """Runs submitted tasks one at a time (SQLite has one writer anyway)."""

    def __init__(self) -> None:
        super().__init__(name="mailroom-executor", daemon=True)
        self._queue: queue.Queue[tuple[str, int | None]] = queue.Queue()
        self._waiting: set[tuple[str, int | None]] = set()
        self._lock = threading.Lock()

    def submit(self, name: str, arg: int | None = None) -> None:
        """Queue ``TASKS[name](arg)`` unless the same task is already waiting."""
        if name not in TASKS:
            raise KeyError(f"no task named {name!r}")
        key = (name, arg)
        with self._lock:
            if key in self._waiting:
                return
            self._waiting.add(key)
        self._queue.put(key)

    def run(self) -> None:
        while True:
            key = self._queue.get()
            if key == _STOP:
                return
            with self._lock:
                self._waiting.discard(key)
            name, arg = key
            try:
                TASKS[name](arg)
            except Exception:
                logger.exception("task %s(%s) failed", name, arg)
            finally:
                close_old_connections()

    def stop(self, timeout: float = 60.0) -> None:
        """Finish the running task, drop the rest, and end the thread."""
        with self._lock:
            self._waiting.clear()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._queue.put(_STOP)
        if self.is_alive():
            self.join(timeout)
