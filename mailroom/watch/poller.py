"""The embedded watcher: a background thread that runs a full pass every poll interval.

It is the in-process shape of "watch + worker"; the pass functions are the same that the
scale-out workers run. A failing pass is logged and the loop goes on.
"""

from __future__ import annotations

import logging
import threading

from django.db import close_old_connections

from mailroom.tasks.passes import run_pass

logger = logging.getLogger(__name__)


class Poller(threading.Thread):
    """Runs :func:`run_pass` every ``interval`` seconds until :meth:`stop` is called."""

    def __init__(self, interval: float) -> None:
        super().__init__(name="mailroom-poller", daemon=True)
        self.interval = interval
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                report = run_pass()
                if report.stored or report.sent:
                    logger.info(
                        "pass: %s stored, %s processed, %s sent",
                        report.stored,
                        report.processed,
                        report.sent,
                    )
            except Exception:
                logger.exception("sync pass failed; trying again in %s s", self.interval)
            finally:
                close_old_connections()
            self._stopping.wait(self.interval)

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the loop to end after the current pass and wait for it."""
        self._stopping.set()
        if self.is_alive():
            self.join(timeout)
