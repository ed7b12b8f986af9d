"""The scale-out executor: Celery runs the task registry's functions, with a Redis broker.

The same functions as the embedded executor, registered under ``mailroom.<name>`` on the queue
the registry gives them. Configured for correctness rather than throughput:

- a task is acknowledged only after it ran (late ack), and a worker process that dies mid-task
  (SIGKILL, out of memory) has its task handed to another worker: at once when the pool's
  parent notices, after the visibility timeout when the whole machine went;
- the visibility timeout is above the hard time limit, which is above the soft one, which is
  above the longest task: a task is never redelivered while it may still be running;
- failures of the database or broker connection are retried with backoff, a bounded number of
  times; what is still undone after that is durable in the database and the sweep finds it;
- tasks carry ids only (JSON), never secrets, and are sent after the transaction that makes
  them due commits (:func:`mailroom.tasks.dispatch.enqueue`);
- a task already waiting in the broker is not sent twice (a Redis key per waiting task), so a
  sweep every few seconds over a slow queue does not pile up copies.
"""

from __future__ import annotations

import json
import logging
from functools import cache
from typing import Any

import redis
from celery import Celery, signals
from django.db import InterfaceError, OperationalError, close_old_connections

from mailroom import conf
from mailroom.tasks.jobs import TryLater
from mailroom.tasks.registry import QUEUES, TASKS

logger = logging.getLogger(__name__)

SOFT_LIMIT = conf.SYNC_TASK_SECONDS + conf.TASK_GRACE_SECONDS
HARD_LIMIT = SOFT_LIMIT + conf.TASK_GRACE_SECONDS
VISIBILITY_TIMEOUT = HARD_LIMIT + conf.TASK_GRACE_SECONDS

# Retries of a task whose database or broker connection failed (PostgreSQL restarting, say).
RETRYABLE = (OperationalError, InterfaceError, redis.ConnectionError)
MAX_RETRIES = 8
RETRY_BACKOFF_MAX = 120

QUEUE_PREFIX = "mailroom."
WAITING_PREFIX = "mailroom:waiting:"


def queue_name(queue: str) -> str:
    """The broker queue of one registry queue (sync, process, send, sweep)."""
    return QUEUE_PREFIX + queue


def all_queues() -> list[str]:
    """Every broker queue a worker serves unless told otherwise."""
    return [queue_name(queue) for queue in QUEUES]


def waiting_key(name: str, args: tuple[object, ...]) -> str:
    """The Redis key that says "this task is waiting in the broker"."""
    return WAITING_PREFIX + name + ":" + json.dumps(list(args), separators=(",", ":"))


def _configure(app: Celery) -> None:
    app.conf.update(
        broker_url=conf.CELERY_BROKER_URL,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": VISIBILITY_TIMEOUT,
            # Look for the unacknowledged tasks of dead workers every 5 s.
            "unacked_restore_interval": 5,
            "unacked_restore_throttle": 1,
            "health_check_interval": 25,
        },
        broker_heartbeat=10,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_soft_time_limit=SOFT_LIMIT,
        task_time_limit=HARD_LIMIT,
        task_default_queue=queue_name("process"),
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        # Django's own connection handling per task (close stale ones, health checks).
        worker_max_tasks_per_child=1000,
    )


def _register(app: Celery) -> None:
    for task in TASKS.values():

        def run(self: Any, *args: Any, _name: str = task.name) -> None:
            arguments = tuple(tuple(arg) if isinstance(arg, list) else arg for arg in args)
            # Taken off the waiting list before it runs: work that becomes due meanwhile is
            # sent again rather than lost behind this run.
            _forget_waiting(_name, arguments)
            try:
                TASKS[_name].run(*arguments)
            except TryLater as later:
                # Not a failure: the task asked to run again later (a folder another sync
                # holds); one such wait per chain, so no bound is needed beyond the task's own.
                raise self.retry(
                    args=list(later.task_args), countdown=later.seconds, max_retries=None
                ) from None
            except RETRYABLE as error:
                logger.warning("%s%s: %s; retrying", _name, arguments, error)
                countdown = min(2 ** (self.request.retries + 1), RETRY_BACKOFF_MAX)
                raise self.retry(exc=error, countdown=countdown, max_retries=MAX_RETRIES) from None

        app.task(
            bind=True,
            name=QUEUE_PREFIX + task.name,
            queue=queue_name(task.queue),
            acks_late=True,
        )(run)


@cache
def app() -> Celery:
    """The process's Celery application (built on first use: the embedded shape never does)."""
    celery = Celery("mailroom")
    _configure(celery)
    # Celery's Django fix-up closes every connection around every task, whatever
    # CONN_MAX_AGE says: a new PostgreSQL backend per task. Keep them instead, and close only
    # those Django finds broken (a restarted server) or past their age, as a web request does.
    celery.conf["CELERY_DB_REUSE_MAX"] = 10**9
    signals.task_prerun.connect(_tidy_connections, weak=False)
    signals.task_postrun.connect(_tidy_connections, weak=False)
    _register(celery)
    return celery


def _tidy_connections(**kwargs: Any) -> None:
    close_old_connections()


@cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(conf.CELERY_BROKER_URL, socket_timeout=10)


def _forget_waiting(name: str, args: tuple[object, ...]) -> None:
    if not TASKS[name].merges:
        try:
            _redis().delete(waiting_key(name, args))
        except redis.RedisError:
            logger.warning("could not clear the waiting mark of %s%s", name, args)


class CeleryExecutor:
    """Sends registry tasks to the broker; ``mailroom worker`` processes run them."""

    def submit(self, name: str, *args: object) -> None:
        """Send ``TASKS[name](*args)`` to its queue unless the same task is already waiting."""
        task = TASKS[name]
        key = None if task.merges else waiting_key(name, args)
        # The mark expires with the visibility timeout: one left by a lost message ends by then.
        if key and not _redis().set(key, 1, nx=True, ex=VISIBILITY_TIMEOUT):
            return
        try:
            app().send_task(QUEUE_PREFIX + name, args=list(args), queue=queue_name(task.queue))
        except Exception:
            if key:
                _redis().delete(key)
            raise
