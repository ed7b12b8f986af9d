"""Push: a thread per watched folder holds an IMAP IDLE and fetches new mail on that connection.

A watcher logs in once, syncs the folder (mail may have come while it was away), then IDLEs.
When the server announces new mail it leaves IDLE and syncs that folder at once over the same
connection: no second login, no other mailbox touched. It re-issues IDLE well before the
29 minutes of RFC 2177 and syncs again every poll interval as a safety net. A broken connection
is retried with exponential backoff and jitter; a refused login is not retried until the
credentials change; a server without IDLE leaves the folder to the sweep's polls.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import connection

from mailroom import conf, metrics
from mailroom.mailboxes.servers import imap_settings
from mailroom.models import Folder, Mailbox
from mailroom.sync.mailbox import record_failure, sync_mailbox, why_not_syncing
from mailroom.transport.errors import TransportError
from mailroom.transport.imap import IdleUnsupported, ImapSession, wait_for_change

logger = logging.getLogger(__name__)

# RFC 2177: re-issue IDLE at least every 29 minutes so servers do not drop the connection.
IDLE_SECONDS = 25 * 60
MAX_BACKOFF = 300.0
# How often an idle watcher wakes by itself; stop() wakes it at once.
IDLE_TICK = 30.0
# How soon a watcher tries again to sync a folder that another sync was holding.
RETRY_HELD_SECONDS = 2.0


# Watchers that touch the database at the same moment. Writes take turns anyway (SQLite has
# one writer); without a bound, a thousand watchers starting together each opened a
# connection and held it while they queued, hundreds of megabytes for nothing.
_database_turns = threading.BoundedSemaphore(8)


@contextmanager
def _database_turn() -> Iterator[None]:
    """A turn at the database for one watcher; its connection is closed when the turn ends."""
    with _database_turns:
        try:
            yield
        finally:
            _release_db()


def _release_db() -> None:
    """Close this thread's database connection: a thousand idle watchers must not each keep
    one open (with its page cache) while they wait.

    A connection inside a transaction is left to whoever opened the transaction: closing it
    would throw that work away (PostgreSQL really closes; SQLite's in-memory database ignored
    the close and hid this)."""
    if not connection.in_atomic_block:
        connection.close()


class IdleWatcher(threading.Thread):
    """Watches one folder of one mailbox and syncs it when the server announces mail."""

    def __init__(
        self, mailbox_id: int, folder_id: int, on_stored: Callable[[list[int]], None]
    ) -> None:
        super().__init__(name=f"mailroom-idle-{mailbox_id}-{folder_id}", daemon=True)
        self.mailbox_id = mailbox_id
        self.folder_id = folder_id
        self._on_stored = on_stored
        self._stopping = threading.Event()
        self._session: ImapSession | None = None
        self.finished_reason = ""

    def stop(self) -> None:
        """Ask the watcher to end; a watcher waiting in IDLE is woken at once."""
        self._stopping.set()
        session = self._session
        if session is not None:
            session.interrupt()

    def run(self) -> None:
        # Spread the first logins of many watchers over a second or two.
        self._stopping.wait(random.uniform(0, 2.0))  # noqa: S311 (not for secrets)
        backoff = 1.0
        while not self._stopping.is_set():
            try:
                self._watch()
                return
            except IdleUnsupported:
                self.finished_reason = "the server does not offer IDLE; polling only"
                logger.info("mailbox %s: %s", self.mailbox_id, self.finished_reason)
                return
            except _NotNow as exc:
                self.finished_reason = str(exc)
                return
            except (TransportError, OSError) as exc:
                if self._stopping.is_set():
                    return  # woken by stop(): the broken connection is ours, not the server's
                self._failed(exc, backoff)
            except Exception:
                logger.exception("mailbox %s: watcher failed", self.mailbox_id)
            finally:
                _release_db()
            self._stopping.wait(backoff * random.uniform(0.5, 1.0))  # noqa: S311
            backoff = min(backoff * 2, MAX_BACKOFF)

    def _failed(self, exc: BaseException, backoff: float) -> None:
        with _database_turn():
            try:
                mailbox = Mailbox.objects.get(pk=self.mailbox_id)
            except Mailbox.DoesNotExist:
                self._stopping.set()
                return
            reason = record_failure(mailbox, exc)
        logger.info(
            "mailbox %s: watcher reconnects in ≤%.0f s: %s", self.mailbox_id, backoff, reason
        )

    def _sync(self, session: ImapSession, noticed: float | None = None) -> bool:
        """Sync the folder over ``session``; False when another sync kept holding it.

        ``noticed``: when the server announced new mail (monotonic clock), for the push latency.

        Another sync of this folder (a "Sync now") may hold it, and the mail just announced
        could be past its search: try again until the folder is ours, up to a lease's time.
        """
        deadline = time.monotonic() + conf.LEASE_SECONDS
        while not self._stopping.is_set():
            with _database_turn():
                report = sync_mailbox(
                    self.mailbox_id,
                    [self.folder_id],
                    session=session,
                    force=True,
                    on_stored=self._on_stored,
                )
            if noticed is not None and report.stored:
                metrics.PUSH_SECONDS.observe(time.monotonic() - noticed)
            if not any(f.skipped for f in report.folders):
                return True
            if time.monotonic() > deadline:
                return False
            self._stopping.wait(0.2)
        return False

    def _watch(self) -> None:
        with _database_turn():
            mailbox = Mailbox.objects.select_related("connection").get(pk=self.mailbox_id)
            reason = why_not_syncing(mailbox, force=True)
            if reason is not None:
                raise _NotNow(reason)
            folder = Folder.objects.get(pk=self.folder_id)
            settings = imap_settings(mailbox.connection)
        with ImapSession(settings) as session:
            self._session = session
            if self._stopping.is_set():
                return
            # False while another sync holds the folder: mail that came after that sync's
            # search is in the folder already, so IDLE will never announce it; try again soon.
            synced = self._sync(session)
            if not synced:
                session.examine(folder.name)  # held by another sync: open it for IDLE here
            last_sync = time.monotonic()
            while not self._stopping.is_set():
                if session.announced():
                    # Mail arrived while the last sync ran; IDLE would not report it again.
                    synced = self._sync(session, time.monotonic())
                    last_sync = time.monotonic()
                    continue
                wait = min(
                    IDLE_SECONDS, max(1.0, conf.POLL_SECONDS - (time.monotonic() - last_sync))
                )
                if not synced:
                    wait = min(wait, RETRY_HELD_SECONDS)
                changed = wait_for_change(
                    session, seconds=wait, stop=self._stopping.is_set, tick=IDLE_TICK
                )
                if self._stopping.is_set():
                    return
                if changed or not synced or time.monotonic() - last_sync >= conf.POLL_SECONDS:
                    synced = self._sync(session, time.monotonic() if changed else None)
                    last_sync = time.monotonic()


class _NotNow(Exception):
    """The mailbox must not connect now (disabled, or its login was refused)."""
