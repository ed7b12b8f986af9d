"""Leases with owners: "only one worker syncs this folder", "only one watcher holds this mailbox".

A lease is two columns on the row it protects, an owner token and an expiry. Claiming is one
UPDATE that succeeds only when the lease is free, expired or already ours, so it works on SQLite
and PostgreSQL alike. The holder renews it while it works; a killed holder's lease runs out in
seconds. Every write the lease protects filters on the owner token as well (fencing): a holder
whose lease was taken over after it stalled can no longer write.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import timedelta
from types import TracebackType
from typing import Any

from django.db import DatabaseError, connection, models
from django.db.models import Q
from django.utils import timezone

logger = logging.getLogger(__name__)


def new_owner() -> str:
    """A fresh owner token, unique to one holder (one task run, one watcher process)."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class LeaseField:
    """The two columns of one kind of lease on a model."""

    model: type[models.Model]
    owner: str = "lease_owner"
    until: str = "lease_until"

    def held_by(self, owner: str) -> Q:
        """Rows whose lease ``owner`` holds right now (for fenced writes)."""
        return Q(**{self.owner: owner, f"{self.until}__gte": timezone.now()})

    def claim(self, pk: int, owner: str, ttl: timedelta, **conditions: Any) -> bool:
        """Take the lease on row ``pk`` for ``ttl`` unless someone else holds it."""
        now = timezone.now()
        free = (
            Q(**{f"{self.until}__isnull": True})
            | Q(**{f"{self.until}__lt": now})
            | Q(**{self.owner: owner})
        )
        updated = self.model._default_manager.filter(free, pk=pk, **conditions).update(
            **{self.owner: owner, self.until: now + ttl}
        )
        return bool(updated == 1)

    def renew(self, pk: int, owner: str, ttl: timedelta) -> bool:
        """Extend our lease; False when it was lost (expired and taken, or released)."""
        updated = self.model._default_manager.filter(self.held_by(owner), pk=pk).update(
            **{self.until: timezone.now() + ttl}
        )
        return bool(updated == 1)

    def release(self, pk: int, owner: str, **changes: Any) -> bool:
        """Give the lease back (only if it is still ours), applying ``changes`` in the same
        UPDATE."""
        updated = self.model._default_manager.filter(pk=pk, **{self.owner: owner}).update(
            **{self.owner: "", self.until: None}, **changes
        )
        return bool(updated == 1)


class LeaseKeeper:
    """Renews a lease every third of its time while its holder works (``with`` block).

    A chunk of a slow server's mail may take longer to download than a lease lasts; the
    holder is alive and working, so it must keep its lease. A killed process renews nothing,
    and its lease runs out as before. The renewals run on their own thread and connection.
    """

    def __init__(self, field: LeaseField, pk: int, owner: str, ttl: timedelta) -> None:
        self.field, self.pk, self.owner, self.ttl = field, pk, owner, ttl
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, name=f"lease-{pk}", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _renew(self) -> None:
        try:
            while not self._stop.wait(self.ttl.total_seconds() / 3):
                try:
                    if not self.field.renew(self.pk, self.owner, self.ttl):
                        return  # lost: the fenced writes of the holder will find out
                except DatabaseError as error:
                    logger.warning("could not renew a lease on row %s: %s", self.pk, error)
        finally:
            connection.close()
