"""The big write transactions (a stored chunk, a processed batch) of one process, one at a time.

SQLite has one writer at a time, and a thread that finds the database locked polls for it with
growing sleeps: a sync thread and a processing thread that both write large transactions spent
more time sleeping than writing. On SQLite they queue on a lock in the process instead and take
turns at once. PostgreSQL writes concurrently and needs no such lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction

_lock = threading.Lock()


@contextmanager
def write_transaction() -> Iterator[None]:
    """``transaction.atomic()``, taken in turn with the process's other big writers."""
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        # Inside a transaction the database lock is ours already (or a test's).
        with transaction.atomic():
            yield
        return
    with _lock, transaction.atomic():
        yield
