"""The ``mailroom`` command: every Django management command, with mailroom's settings.

``mailroom run``, ``mailroom mailbox …``, ``mailroom sync …`` and ``mailroom config …`` are
management commands of the mailroom app (``mailroom/management/commands``), so ``mailroom
migrate`` or ``mailroom shell`` work the same way with the same settings.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    """Run the management command named on the command line."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mailroom.settings")
    from django.core.management import execute_from_command_line

    from mailroom.conf import ConfigError

    try:
        execute_from_command_line(["mailroom", *(sys.argv[1:] if argv is None else argv)])
    except ConfigError as error:
        sys.exit(f"mailroom: {error}")


if __name__ == "__main__":
    main()
