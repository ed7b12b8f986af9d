"""Start-up checks and signal handling shared by the scale-out commands."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

from mailroom import conf, metrics
from mailroom.tasks.celery_app import CeleryExecutor
from mailroom.tasks.dispatch import set_executor


def require_scaleout(command: str) -> None:
    """Refuse to run a scale-out process in the embedded shape, saying what to do instead."""
    if not (conf.DATABASE_URL and conf.CELERY_BROKER_URL):
        raise CommandError(
            f"`mailroom {command}` is a process of the scale-out shape: set DATABASE_URL "
            "(PostgreSQL) and CELERY_BROKER_URL (Redis), see docs/deploy.md; "
            "`mailroom run` runs everything in one process"
        )


def require_migrated() -> None:
    """Refuse to start against a database whose migrations are not all applied."""
    connection = connections[DEFAULT_DB_ALIAS]
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        raise CommandError(
            f"the database lacks {len(plan)} migration(s): run `mailroom migrate` once "
            "(from one machine) before starting the processes"
        )


def add_metrics_port(parser: CommandParser) -> None:
    """The ``--metrics-port`` option of the processes that serve their own metrics."""
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=0,
        help="serve Prometheus metrics on this port of 127.0.0.1 (default: none)",
    )


def serve_metrics(options: dict[str, Any]) -> None:
    """Start the metrics server if ``--metrics-port`` asked for one."""
    if options["metrics_port"]:
        metrics.serve(options["metrics_port"])


def use_celery() -> None:
    """Send this process's tasks to the broker."""
    set_executor(CeleryExecutor())


def stop_event() -> threading.Event:
    """An event set by SIGTERM or SIGINT: the process's cue to stop cleanly."""
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return stopping
