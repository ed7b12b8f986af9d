"""``mailroom run``: the embedded shape in one process (migrate, first admin, UI, watcher)."""

from __future__ import annotations

import ctypes
import secrets
import signal
from types import FrameType
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.core.wsgi import get_wsgi_application
from waitress.server import create_server

from mailroom import conf
from mailroom.crm.lists import ensure_default_lead_sources
from mailroom.tasks.dispatch import set_executor
from mailroom.tasks.executor import EmbeddedExecutor
from mailroom.watch.supervisor import Supervisor


def _few_malloc_arenas() -> None:
    """Ask glibc for two malloc arenas instead of eight per core.

    A thousand IDLE watcher threads each allocate a little; spread over sixteen arenas that
    memory fragments, and the process keeps hundreds of megabytes it does not use.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return  # not glibc: nothing to tune
    m_arena_max = -8
    libc.mallopt(m_arena_max, 2)


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Apply migrations, create the first administrator, serve the UI and sync mail."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bind", default=conf.BIND, help="address:port of the web UI")
        parser.add_argument(
            "--no-watch", action="store_true", help="serve the UI only, do not sync mail"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        _few_malloc_arenas()
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        self._ensure_admin()
        # A new installation starts with a sensible list of Lead Source options.
        ensure_default_lead_sources()
        host, _, port = options["bind"].rpartition(":")
        # Built after collectstatic: WhiteNoise indexes the static files when it starts.
        application = get_wsgi_application()
        server = create_server(application, host=host or "127.0.0.1", port=int(port), threads=8)
        executor = EmbeddedExecutor()
        supervisor = None if options["no_watch"] else Supervisor(executor)
        executor.start()
        set_executor(executor)
        if supervisor:
            supervisor.start()
        signal.signal(signal.SIGTERM, _stop)
        # A process started in the background by a script inherits "ignore SIGINT"; Ctrl-C
        # (or kill -INT) must stop mailroom all the same.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        self.stdout.write(f"mailroom is running at http://{options['bind']}/ (Ctrl-C stops it)")
        self.stdout.write(f"data directory: {settings.DATA_DIR}")
        try:
            server.run()
        except KeyboardInterrupt:
            pass  # waitress often handles Ctrl-C itself and returns normally
        finally:
            self.stdout.write("stopping…")
            server.close()
            if supervisor:
                supervisor.stop()
            set_executor(None)
            executor.stop()
        self.stdout.write("mailroom stopped")

    def _ensure_admin(self) -> None:
        users = get_user_model().objects
        if users.filter(is_superuser=True).exists():
            return
        password = conf.ADMIN_PASSWORD
        generated = not password
        if generated:
            password = secrets.token_urlsafe(12)
        users.create_superuser(username=conf.ADMIN_EMAIL, email=conf.ADMIN_EMAIL, password=password)
        self.stdout.write(f"created the administrator {conf.ADMIN_EMAIL}")
        if generated:
            # Shown once, here only; set MAILROOM_ADMIN_PASSWORD to choose it instead.
            self.stdout.write(f"  password: {password}  (shown once; change it after logging in)")
