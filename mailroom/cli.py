"""The ``mailroom`` command: every Django management command, with mailroom's settings.

``mailroom run``, ``mailroom mailbox …``, ``mailroom sync …`` and ``mailroom config …`` are
management commands of the mailroom app (``mailroom/management/commands``), so ``mailroom
migrate`` or ``mailroom shell`` work the same way with the same settings.
"""

from __future__ import annotations

import os
import sys
import tempfile


def _metrics_directory(command: str) -> None:
    """A Celery worker's pool processes count into files that its metrics server adds up.

    prometheus_client picks its storage when first imported, so the directory is chosen here,
    before anything is imported; each worker start gets a fresh one.
    """
    if command == "worker" and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="mailroom-metrics-")


def main(argv: list[str] | None = None) -> None:
    """Run the management command named on the command line."""
    args = sys.argv[1:] if argv is None else argv
    _metrics_directory(args[0] if args else "")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mailroom.settings")
    from django.core.management import execute_from_command_line

    from mailroom.conf import ConfigError

    try:
        execute_from_command_line(["mailroom", *args])
    except ConfigError as error:
        sys.exit(f"mailroom: {error}")


if __name__ == "__main__":
    main()
