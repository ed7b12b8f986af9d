"""``mailroom web``: the UI server of the scale-out shape; run it on any number of machines."""

from __future__ import annotations

import threading
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.core.wsgi import get_wsgi_application
from waitress.server import create_server

from mailroom import conf
from mailroom.scaleout.process import require_migrated, require_scaleout, stop_event, use_celery


class Command(BaseCommand):
    help = "Serve the web UI; the tasks it starts (a sync on save) go to the workers."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bind", default=conf.BIND, help="address:port to listen on")
        parser.add_argument("--threads", type=int, default=8, help="request threads")

    def handle(self, *args: Any, **options: Any) -> None:
        require_scaleout("web")
        require_migrated()
        use_celery()
        call_command("collectstatic", interactive=False, verbosity=0)
        host, _, port = options["bind"].rpartition(":")
        # Built after collectstatic: WhiteNoise indexes the static files when it starts.
        server = create_server(
            get_wsgi_application(),
            host=host or "127.0.0.1",
            port=int(port),
            threads=options["threads"],
        )
        stopping = stop_event()
        threading.Thread(target=lambda: (stopping.wait(), server.close()), daemon=True).start()
        self.stdout.write(f"mailroom web is serving http://{options['bind']}/")
        self.stdout.flush()
        try:
            server.run()
        except (OSError, ValueError):
            if not stopping.is_set():
                raise
        self.stdout.write("stopped")
