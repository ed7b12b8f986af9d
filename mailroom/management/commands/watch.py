"""``mailroom watch``: IMAP IDLE watchers for a share of the mailboxes (the scale-out shape).

Each process claims mailboxes by lease up to its capacity and renews them; run several on
different machines and a killed one's mailboxes are taken over within the lease time. New mail
is stored by the watcher itself; processing and replies go to the workers.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from mailroom import conf
from mailroom.scaleout.process import (
    add_metrics_port,
    require_migrated,
    require_scaleout,
    serve_metrics,
    stop_event,
    use_celery,
)
from mailroom.tasks.celery_app import CeleryExecutor
from mailroom.watch.supervisor import Supervisor


class Command(BaseCommand):
    help = "Hold IMAP IDLE on a share of the mailboxes; any number of these processes at once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--capacity",
            type=int,
            default=conf.WATCH_CAPACITY,
            help="most mailboxes this process holds (MAILROOM_WATCH_CAPACITY)",
        )
        add_metrics_port(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        require_scaleout("watch")
        require_migrated()
        use_celery()
        serve_metrics(options)
        stopping = stop_event()
        supervisor = Supervisor(CeleryExecutor(), capacity=options["capacity"], sweep=False)
        supervisor.start()
        self.stdout.write(f"watching up to {options['capacity']} mailboxes", ending="\n")
        self.stdout.flush()
        stopping.wait()
        supervisor.stop()
        self.stdout.write("stopped; leases given back")
