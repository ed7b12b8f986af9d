"""Enqueue a task after the transaction that makes it due commits: the one place that knows how
tasks reach their workers.

Without an executor (a one-off command, a test) ``enqueue`` does nothing: the work is durable in
the database and the next sweep, or the command's own loop, finds it. That is also what happens
to a task lost with a process: nothing is lost but time.
"""

from __future__ import annotations

from typing import Protocol

from django.db import transaction


class Executor(Protocol):
    """What runs tasks: the embedded executor, or (scale-out) a Celery adapter."""

    def submit(self, name: str, *args: object) -> None:
        """Run task ``name`` with ``args`` (ids only) some time soon."""
        ...


_executor: Executor | None = None


def set_executor(executor: Executor | None) -> None:
    """Install the process's executor (``mailroom run`` does), or remove it."""
    global _executor
    _executor = executor


def enqueue(name: str, *args: object) -> None:
    """Run task ``name(*args)`` once the current transaction commits (at once outside one)."""
    executor = _executor
    if executor is None:
        return
    transaction.on_commit(lambda: executor.submit(name, *args))
