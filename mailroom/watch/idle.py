"""Push: one thread per watched folder holds an IMAP IDLE and asks for a pass on new mail.

A watcher connects, opens the folder read-only, asks for one catch-up pass (mail may have come
while it was away), then IDLEs. A broken connection is retried with exponential backoff (1 s to
5 min). A server without IDLE ends the watcher; the supervisor's periodic poll covers it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.db import close_old_connections

from mailroom.mailboxes.servers import imap_settings
from mailroom.models import Mailbox
from mailroom.transport.errors import AuthFailed, TransportError
from mailroom.transport.imap import IdleUnsupported, ImapSession, wait_for_change

logger = logging.getLogger(__name__)

# RFC 2177: re-issue IDLE at least every 29 minutes so servers do not drop the connection.
IDLE_SECONDS = 25 * 60
MAX_BACKOFF = 300.0


class IdleWatcher(threading.Thread):
    """Watches one folder of one mailbox; calls ``on_change(mailbox_id)`` when mail arrives."""

    def __init__(self, mailbox_id: int, folder: str, on_change: Callable[[int], None]) -> None:
        super().__init__(name=f"mailroom-idle-{mailbox_id}-{folder}", daemon=True)
        self.mailbox_id = mailbox_id
        self.folder = folder
        self._on_change = on_change
        self._stopping = threading.Event()

    def stop(self) -> None:
        """Ask the watcher to end; it notices within a second."""
        self._stopping.set()

    def run(self) -> None:
        backoff = 1.0
        while not self._stopping.is_set():
            try:
                self._watch()
                return
            except IdleUnsupported:
                logger.info("mailbox %s: no IDLE; polling only", self.mailbox_id)
                return
            except AuthFailed as exc:
                # Retrying a refused password risks a lockout; wait for the settings to change.
                logger.warning("mailbox %s: %s; watcher stopped", self.mailbox_id, exc)
                return
            except (TransportError, Mailbox.DoesNotExist) as exc:
                logger.info(
                    "mailbox %s: watcher reconnects in %.0f s: %s", self.mailbox_id, backoff, exc
                )
            except Exception:
                logger.exception("mailbox %s: watcher failed", self.mailbox_id)
            finally:
                close_old_connections()
            self._stopping.wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    def _watch(self) -> None:
        connection = Mailbox.objects.select_related("connection").get(pk=self.mailbox_id).connection
        settings = imap_settings(connection)
        close_old_connections()
        with ImapSession(settings) as session:
            session.examine(self.folder)
            self._on_change(self.mailbox_id)
            while not self._stopping.is_set():
                if wait_for_change(session, seconds=IDLE_SECONDS, stop=self._stopping.is_set):
                    self._on_change(self.mailbox_id)
