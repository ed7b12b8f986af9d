"""``mailroom sync --once``: one full pass, then exit."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mailroom.models import Mailbox
from mailroom.tasks.passes import run_pass


class Command(BaseCommand):
    help = "Fetch new mail of the selected folders, process it and send the replies it causes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--once", action="store_true", required=True, help="one pass, then exit"
        )
        parser.add_argument("--mailbox", type=int, help="only this mailbox id")

    def handle(self, *args: Any, **options: Any) -> None:
        mailbox_id = options["mailbox"]
        if mailbox_id is not None and not Mailbox.objects.filter(pk=mailbox_id).exists():
            raise CommandError(f"there is no mailbox {mailbox_id}")
        report = run_pass(mailbox_id)
        self.stdout.write(
            json.dumps(
                {
                    "stored": report.stored,
                    "processed": report.processed,
                    "sent": report.sent,
                    "errors": {str(m.mailbox_id): m.error for m in report.mailboxes if m.error},
                }
            )
        )
        if any(m.error for m in report.mailboxes):
            raise CommandError("; ".join(m.error for m in report.mailboxes if m.error))
