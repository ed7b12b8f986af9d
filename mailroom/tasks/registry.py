"""The task registry: every task by name, with the queue (worker pool) that runs it.

Tasks take ids only, never secrets or objects, and are idempotent: running one twice, or a
stale copy of one, changes nothing the first run did not. The embedded executor and Celery run
these same functions; only the dispatch differs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mailroom.tasks import jobs


@dataclass(frozen=True)
class Task:
    """A task function and the queue whose workers run it.

    ``merges``: the task's one argument is a tuple of ids, and several waiting calls may run as
    one over all their ids (under load, processing then works in larger batches by itself).
    """

    name: str
    queue: str
    run: Callable[..., object]
    merges: bool = False


TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        Task("sync_folder", "sync", jobs.sync_folder),
        Task("process_messages", "process", jobs.process_messages, merges=True),
        Task("send_outbox", "send", jobs.send_outbox),
        Task("sweep", "sweep", jobs.sweep),
    )
}

# Worker threads per queue in the embedded executor. Syncs wait on the network, so several
# run at once; processing writes in batches, one at a time (SQLite has one writer anyway).
QUEUES: dict[str, int] = {"sync": 4, "process": 1, "send": 2, "sweep": 1}
