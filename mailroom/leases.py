"""Leases with owners: "only one worker syncs this folder", "only one watcher holds this mailbox".

A lease is two columns on the row it protects, an owner token and an expiry. Claiming is one
UPDATE that succeeds only when the lease is free, expired or already ours, so it works on SQLite
and PostgreSQL alike. The holder renews it while it works; a killed holder's lease runs out in
seconds. Every write the lease protects filters on the owner token as well (fencing): a holder
whose lease was taken over after it stalled can no longer write.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone


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
