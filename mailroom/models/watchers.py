"""The live watch processes, so that they share the mailboxes between them."""

from __future__ import annotations

from django.db import models


class WatchProcess(models.Model):
    """One running watcher (a ``mailroom watch`` process, or ``mailroom run``'s own).

    Each renews its row with its mailbox leases; a row whose ``until`` has passed belongs to a
    process that is gone. From the live rows each watcher works out its fair share.
    """

    owner = models.CharField(max_length=64, unique=True)
    host = models.CharField(max_length=255, blank=True)
    capacity = models.PositiveIntegerField()
    until = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.host or 'watcher'} {self.owner[:8]}"
