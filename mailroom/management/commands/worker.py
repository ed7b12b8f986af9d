"""``mailroom worker``: a Celery worker running the task registry (the scale-out shape)."""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from mailroom.scaleout.process import (
    add_metrics_port,
    require_migrated,
    require_scaleout,
    serve_metrics,
    use_celery,
)
from mailroom.tasks.celery_app import all_queues, app, queue_name


class Command(BaseCommand):
    help = "Run registry tasks (sync, process, send, sweep) from the broker; any number at once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--queues",
            default="",
            help="comma-separated queues to serve (sync, process, send, sweep); default all",
        )
        parser.add_argument(
            "--concurrency",
            type=int,
            default=os.cpu_count() or 2,
            help="worker processes (default: one per core)",
        )
        parser.add_argument(
            "--hostname",
            default="",
            help="the worker's node name (default celery@HOST); unique per worker on a machine",
        )
        parser.add_argument("--loglevel", default="INFO")
        add_metrics_port(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        require_scaleout("worker")
        require_migrated()
        use_celery()  # tasks enqueue follow-up tasks (a sync enqueues processing)
        # The pool processes count into the directory mailroom.cli chose; this sums them.
        serve_metrics(options)
        wanted = [name.strip() for name in options["queues"].split(",") if name.strip()]
        queues = [queue_name(name) for name in wanted] or all_queues()
        argv = [
            "worker",
            f"--queues={','.join(queues)}",
            f"--concurrency={options['concurrency']}",
            f"--loglevel={options['loglevel']}",
            "--without-gossip",
            "--without-mingle",
        ]
        if options["hostname"]:
            argv.append(f"--hostname={options['hostname']}")
        app().worker_main(argv)
