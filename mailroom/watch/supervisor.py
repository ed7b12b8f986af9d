"""Keeps one IDLE watcher per selected folder and runs a periodic poll pass as a safety net.

Every poll interval it asks for a pass over all mailboxes (which also retries due outbox rows
and pending messages), then starts watchers for folders newly selected and stops those whose
folder, mailbox or connection settings changed.
"""

from __future__ import annotations

import logging
import threading

from django.db import close_old_connections

from mailroom.models import Folder
from mailroom.tasks.executor import EmbeddedExecutor
from mailroom.watch.idle import IdleWatcher

logger = logging.getLogger(__name__)

WatchKey = tuple[int, str, str]


def wanted_watches() -> set[WatchKey]:
    """(mailbox id, folder, settings version) of every folder that should be watched."""
    rows = Folder.objects.filter(
        selected=True, missing=False, mailbox__connection__imap_enabled=True
    ).values_list("mailbox_id", "name", "mailbox__updated_at")
    return {(mailbox_id, name, str(updated)) for mailbox_id, name, updated in rows}


class Supervisor(threading.Thread):
    """The embedded watcher: IDLE push where the server offers it, polling everywhere."""

    def __init__(
        self, executor: EmbeddedExecutor, poll_seconds: float, *, idle: bool = True
    ) -> None:
        super().__init__(name="mailroom-supervisor", daemon=True)
        self.executor = executor
        self.poll_seconds = poll_seconds
        self.idle = idle
        self._watchers: dict[WatchKey, IdleWatcher] = {}
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.is_set():
            self.executor.submit("run_pass", None)
            if self.idle:
                try:
                    self._reconcile()
                except Exception:
                    logger.exception("could not update the IDLE watchers")
                finally:
                    close_old_connections()
            self._stopping.wait(self.poll_seconds)

    def _on_change(self, mailbox_id: int) -> None:
        self.executor.submit("run_pass", mailbox_id)

    def _reconcile(self) -> None:
        wanted = wanted_watches()
        # A watcher that ended (no IDLE, password refused) stays ended until the mailbox's
        # settings change: restarting it would only repeat the refused login.
        for key in list(self._watchers):
            if key not in wanted:
                self._watchers.pop(key).stop()
        for key in wanted - self._watchers.keys():
            mailbox_id, folder, _version = key
            watcher = IdleWatcher(mailbox_id, folder, self._on_change)
            watcher.start()
            self._watchers[key] = watcher

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop and every watcher."""
        self._stopping.set()
        for watcher in self._watchers.values():
            watcher.stop()
        for watcher in self._watchers.values():
            watcher.join(timeout)
        if self.is_alive():
            self.join(timeout)
