"""``mailroom config export`` / ``mailroom config import FILE``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mailroom.configuration.export import export_configuration
from mailroom.configuration.importer import ConfigurationInvalid, import_configuration


class Command(BaseCommand):
    help = "Export or import the whole configuration as JSON (passwords are never exported)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("export", help="print the configuration as JSON")
        imp = sub.add_parser("import", help="create or update from a JSON file ('-' for stdin)")
        imp.add_argument("file")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "export":
            self.stdout.write(json.dumps(export_configuration(), indent=2, ensure_ascii=False))
            return
        path = options["file"]
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
            doc = json.loads(text)
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {path}: {exc}") from None
        except json.JSONDecodeError as exc:
            raise CommandError(f"{path} is not valid JSON: {exc}") from None
        try:
            import_configuration(doc)
        except ConfigurationInvalid as exc:
            raise CommandError(f"nothing imported; {exc}") from None
        self.stdout.write("configuration imported")
