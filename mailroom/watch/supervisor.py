"""The watch loop: holds mailboxes by lease and keeps one IDLE watcher per selected folder.

Every few seconds it renews its row among the live watchers (``WatchProcess``) and works out
its fair share: the mailboxes split evenly between the live watch processes, within each one's
capacity. It claims mailboxes that no live watcher holds up to that share, gives back what is
above it when another watcher has started, renews the leases it holds, starts watchers for
their selected folders and stops those whose mailbox settings or folder selection changed, or
whose lease was lost. A killed watch process's leases run out within the lease time and the
other processes (or this one, restarted) take them over. In the embedded shape the same loop
runs the sweep, which polls folders no watcher holds and finds lost work.
"""

from __future__ import annotations

import logging
import socket
import threading
from datetime import datetime, timedelta

from django.db import close_old_connections
from django.db.models import Q, QuerySet
from django.utils import timezone

from mailroom import conf
from mailroom.leases import LeaseField, new_owner
from mailroom.models import Folder, Mailbox, WatchProcess
from mailroom.tasks.dispatch import Executor
from mailroom.tasks.jobs import enqueue_processing
from mailroom.watch.idle import IdleWatcher
from mailroom.watch.shares import fair_shares

logger = logging.getLogger(__name__)

WATCH_LEASE = LeaseField(Mailbox, owner="watch_owner", until="watch_until")

# (mailbox id, folder id, settings version): a changed mailbox gets fresh watchers.
WatchKey = tuple[int, int, str]

LOOP_SECONDS = 2.0


def _watchable() -> QuerySet[Mailbox]:
    """Mailboxes with something to watch: IMAP on and a selected folder on the server."""
    with_folders = Folder.objects.filter(selected=True, missing=False).values("mailbox_id")
    return Mailbox.objects.filter(connection__imap_enabled=True, pk__in=with_folders)


class Supervisor(threading.Thread):
    """The embedded watcher: IDLE push where the server offers it, sweeps everywhere."""

    def __init__(
        self, executor: Executor, *, idle: bool = True, capacity: int = 5000, sweep: bool = True
    ) -> None:
        super().__init__(name="mailroom-supervisor", daemon=True)
        self.executor = executor
        self.idle = idle
        self.capacity = capacity
        # The embedded shape sweeps from this loop; in the scale-out shape `mailroom beat` does.
        self.sweep = sweep
        self.owner = new_owner()
        self._watchers: dict[WatchKey, IdleWatcher] = {}
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                if self.idle:
                    self._reconcile()
                if self.sweep:
                    self.executor.submit("sweep")
            except Exception:
                logger.exception("the watch loop failed; trying again")
            finally:
                close_old_connections()
            self._stopping.wait(LOOP_SECONDS)

    def _ttl(self) -> timedelta:
        return timedelta(seconds=conf.LEASE_SECONDS)

    def _fair_share(self, now: datetime) -> int:
        """Renew this process's row among the live watchers; return its fair share."""
        until = now + self._ttl()
        WatchProcess.objects.update_or_create(
            owner=self.owner,
            defaults={"host": socket.gethostname(), "capacity": self.capacity, "until": until},
        )
        WatchProcess.objects.filter(until__lt=now).delete()  # gone: killed or cut off
        live = dict(WatchProcess.objects.filter(until__gte=now).values_list("owner", "capacity"))
        live[self.owner] = self.capacity
        return fair_shares(_watchable().count(), live)[self.owner]

    def _held(self) -> set[int]:
        """Renew what we hold, give back what is above our share, claim up to it; return the
        mailbox ids held."""
        now = timezone.now()
        target = self._fair_share(now)
        # Renew only the leases past half their time: one UPDATE touches each row once per
        # half lease, not every loop (a thousand rows every 2 s otherwise).
        Mailbox.objects.filter(
            WATCH_LEASE.held_by(self.owner), watch_until__lt=now + self._ttl() / 2
        ).update(watch_until=now + self._ttl())
        held = set(
            Mailbox.objects.filter(WATCH_LEASE.held_by(self.owner)).values_list("pk", flat=True)
        )
        # Above our share (another watcher started): the others claim what we give back.
        # One over is tolerated, so that two watchers never hand one mailbox back and forth.
        if len(held) > target + 1:
            for mailbox_id in sorted(held)[target:]:
                WATCH_LEASE.release(mailbox_id, self.owner)
                held.discard(mailbox_id)
        room = target - len(held)
        if room > 0:
            free = (
                _watchable()
                .filter(Q(watch_until__isnull=True) | Q(watch_until__lt=now))
                .order_by("pk")
                .values_list("pk", flat=True)[:room]
            )
            for mailbox_id in free:
                if WATCH_LEASE.claim(mailbox_id, self.owner, self._ttl()):
                    held.add(mailbox_id)
        return held

    def _wanted(self, held: set[int]) -> set[WatchKey]:
        rows = Folder.objects.filter(
            mailbox_id__in=held,
            selected=True,
            missing=False,
            mailbox__connection__imap_enabled=True,
        ).values_list("mailbox_id", "pk", "mailbox__updated_at")
        return {(mailbox_id, folder_id, str(updated)) for mailbox_id, folder_id, updated in rows}

    def _reconcile(self) -> None:
        held = self._held()
        wanted = self._wanted(held)
        for key in list(self._watchers):
            if key not in wanted:
                self._watchers.pop(key).stop()
        # Let go of mailboxes with nothing to watch, so the sweep polls them.
        idle_boxes = held - {mailbox_id for mailbox_id, _, _ in wanted}
        for mailbox_id in idle_boxes:
            WATCH_LEASE.release(mailbox_id, self.owner)
        for key in wanted - self._watchers.keys():
            mailbox_id, folder_id, _version = key
            watcher = IdleWatcher(mailbox_id, folder_id, enqueue_processing)
            watcher.start()
            self._watchers[key] = watcher
        # A watcher that ended (no IDLE, login refused, IMAP off) stays ended until the
        # mailbox's settings change; meanwhile its folder is polled when due.
        ended = [key[1] for key, watcher in self._watchers.items() if not watcher.is_alive()]
        if ended:
            now = timezone.now()
            due = Folder.objects.filter(pk__in=ended).filter(
                Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now)
            )
            for folder_id in due.values_list("pk", flat=True):
                self.executor.submit("sync_folder", folder_id)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop and every watcher, and give the leases back."""
        self._stopping.set()
        for watcher in self._watchers.values():
            watcher.stop()
        for watcher in self._watchers.values():
            watcher.join(timeout)
        if self.is_alive():
            self.join(timeout)
        try:
            Mailbox.objects.filter(watch_owner=self.owner).update(watch_owner="", watch_until=None)
            WatchProcess.objects.filter(owner=self.owner).delete()
        finally:
            close_old_connections()
