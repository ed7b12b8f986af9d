"""``mailroom beat``: sends the sweep task every few seconds (the scale-out shape).

The sweep polls the folders no watcher holds and re-enqueues work whose task was lost. Several
beat processes may run (one per machine, say): a sweep already waiting is not sent again.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from mailroom import conf
from mailroom.scaleout.process import require_migrated, require_scaleout, stop_event
from mailroom.tasks.celery_app import CeleryExecutor


class Command(BaseCommand):
    help = "Send the sweep to the workers every MAILROOM_SWEEP_SECONDS."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--every", type=float, default=float(conf.SWEEP_SECONDS))

    def handle(self, *args: Any, **options: Any) -> None:
        require_scaleout("beat")
        require_migrated()
        stopping = stop_event()
        executor = CeleryExecutor()
        self.stdout.write(f"sending the sweep every {options['every']:g} s")
        self.stdout.flush()
        while not stopping.is_set():
            try:
                executor.submit("sweep")
            except Exception as error:  # the broker is down: say so, try again
                self.stderr.write(f"could not send the sweep: {error}")
            stopping.wait(options["every"])
