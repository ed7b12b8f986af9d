"""``mailroom mailbox add|edit|check|list``: manage system mailboxes from the shell."""

from __future__ import annotations

import sys
from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email

from mailroom.access.policy import readers_of
from mailroom.crm.lists import lead_choice_refusals
from mailroom.mailboxes.actions import MailboxInput, save_mailbox, set_folders, set_processor
from mailroom.mailboxes.check import check_imap, check_smtp
from mailroom.mailboxes.servers import imap_settings, smtp_settings
from mailroom.models import Mailbox
from mailroom.pipeline.processors.registry import load_processor, registered
from mailroom.transport.errors import BadArgument, TransportError
from mailroom.transport.imap import check_imap_argument

ENCRYPTIONS = ("none", "ssl", "starttls")


def _checked_settings(options: dict[str, Any], mailbox: Mailbox | None) -> dict[str, Any]:
    """The --processor-setting values, once the chosen processor accepts them. "Convert to
    Lead" needs an active Sales channel unless the mailbox already converts to Leads."""
    kind = options["processor"]
    settings = dict(item.split("=", 1) for item in options["processor_setting"] if "=" in item)
    current_kind = mailbox.processor_kind if mailbox is not None else None
    refusals = lead_choice_refusals(
        kind,
        settings,
        current_kind=current_kind,
        current=(mailbox.processor_settings or {}) if mailbox is not None else {},
    )
    if "kind" in refusals:
        raise CommandError(f"--processor lead: {refusals['kind']}")
    if "source" in refusals:
        raise CommandError(f"--processor-setting source: {refusals['source']}")
    errors = load_processor(kind).validate_settings(settings)
    if current_kind == "lead" and kind == "lead":
        errors.pop("processor_kind", None)  # kept without a channel: stored, not converted
    # An owner or assignee must be able to read the mailbox (a new one: an administrator).
    errors.update(load_processor(kind).reader_errors(settings, readers_of(mailbox)))
    if errors:
        raise CommandError("; ".join(f"{key}: {msg}" for key, msg in errors.items()))
    return settings


class Command(BaseCommand):
    help = "Add, edit, check and list system mailboxes."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add: ArgumentParser = sub.add_parser("add", help="create a mailbox; prints its id")
        add.add_argument("--label", required=True)
        add.add_argument("--email", required=True)
        add.add_argument("--imap-host", required=True)
        add.add_argument("--imap-port", type=int, required=True)
        add.add_argument("--imap-encryption", choices=ENCRYPTIONS, required=True)
        add.add_argument("--smtp-host", default="")
        add.add_argument("--smtp-port", type=int, default=465)
        add.add_argument("--smtp-encryption", choices=ENCRYPTIONS, default="ssl")
        add.add_argument("--username", required=True)
        add.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from standard input (it is never a command-line argument)",
        )
        add.add_argument("--folder", action="append", default=[], help="a folder to sync")
        add.add_argument("--processor", choices=sorted(registered()), default="none")
        add.add_argument(
            "--processor-setting",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="a processor setting, e.g. owner=alice or source=Email",
        )
        add.add_argument(
            "--history",
            choices=("none", "days", "all"),
            default="none",
            help="how much mail already on the server to import (default: none)",
        )
        add.add_argument("--history-days", type=int, help="with --history days: how many days")
        add.add_argument(
            "--convert-history",
            action="store_true",
            help="run the processor (Lead, Case) over imported history too; it is never answered",
        )
        edit = sub.add_parser("edit", help="change what a mailbox does with incoming mail")
        edit.add_argument("mailbox_id", type=int)
        edit.add_argument("--processor", choices=sorted(registered()), required=True)
        edit.add_argument(
            "--processor-setting",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="a processor setting, e.g. owner=alice or source=Email (replaces them all)",
        )
        check = sub.add_parser("check", help="connect and list the server's folders")
        check.add_argument("mailbox_id", type=int)
        sub.add_parser("list", help="list the mailboxes")

    def handle(self, *args: Any, **options: Any) -> None:
        match options["action"]:
            case "add":
                self._add(options)
            case "edit":
                self._edit(options)
            case "check":
                self._check(options["mailbox_id"])
            case "list":
                self._list()

    def _add(self, options: dict[str, Any]) -> None:
        try:
            validate_email(options["email"])
        except ValidationError:
            raise CommandError(f"--email: {options['email']!r} is not an email address") from None
        if Mailbox.objects.filter(label=options["label"]).exists():
            raise CommandError(f"--label: a mailbox labelled {options['label']!r} already exists")
        for folder in options["folder"]:
            try:
                check_imap_argument(folder, what="folder")
            except BadArgument as exc:
                raise CommandError(f"--folder: {exc}") from None
        if options["history"] == "days" and not (options["history_days"] or 0) > 0:
            raise CommandError("--history-days: give a number of days above 0 with --history days")
        password = sys.stdin.readline().rstrip("\r\n") if options["password_stdin"] else ""
        settings = _checked_settings(options, None)
        mailbox = save_mailbox(
            MailboxInput(
                label=options["label"],
                email=options["email"],
                imap_host=options["imap_host"],
                imap_port=options["imap_port"],
                imap_encryption=options["imap_encryption"],
                smtp_host=options["smtp_host"],
                smtp_port=options["smtp_port"],
                smtp_encryption=options["smtp_encryption"],
                smtp_enabled=bool(options["smtp_host"]),
                username=options["username"],
                processor_kind=options["processor"],
                processor_settings=settings,
                history_mode=options["history"],
                history_days=options["history_days"],
                history_convert=options["convert_history"],
            ),
            password=password,
        )
        set_folders(mailbox, known=options["folder"], selected=options["folder"])
        self.stdout.write(str(mailbox.pk))

    def _edit(self, options: dict[str, Any]) -> None:
        mailbox = Mailbox.objects.filter(pk=options["mailbox_id"]).first()
        if mailbox is None:
            raise CommandError(f"there is no mailbox {options['mailbox_id']}")
        set_processor(mailbox, options["processor"], _checked_settings(options, mailbox))
        self.stdout.write(f"mailbox {mailbox.pk}: {options['processor']}")

    def _check(self, mailbox_id: int) -> None:
        mailbox = Mailbox.objects.select_related("connection").filter(pk=mailbox_id).first()
        if mailbox is None:
            raise CommandError(f"there is no mailbox {mailbox_id}")
        connection = mailbox.connection
        try:
            folders = check_imap(imap_settings(connection))
        except TransportError as exc:
            field = f"{exc.field}: " if exc.field else ""
            raise CommandError(f"{field}{exc}") from None
        smtp = ""
        if connection.smtp_enabled and connection.smtp_host:
            try:
                logged_in = check_smtp(smtp_settings(connection))
            except TransportError as exc:
                field = f"smtp {exc.field}: " if exc.field else "smtp: "
                raise CommandError(f"{field}{exc}") from None
            smtp = "SMTP login accepted" if logged_in else "SMTP server asks for no login"
        set_folders(mailbox, known=[f.name for f in folders], selected=None)
        self.stdout.write(f"connection works; {smtp + '; ' if smtp else ''}{len(folders)} folders:")
        selected = set(mailbox.folders.filter(selected=True).values_list("name", flat=True))
        for folder in folders:
            mark = "*" if folder.name in selected else " "
            self.stdout.write(f" {mark} {folder.name}")

    def _list(self) -> None:
        for mailbox in Mailbox.objects.select_related("connection").order_by("id"):
            c = mailbox.connection
            folders = ",".join(mailbox.folders.filter(selected=True).values_list("name", flat=True))
            self.stdout.write(
                f"{mailbox.pk}\t{mailbox.label}\t{mailbox.email}\t{c.imap_host}:{c.imap_port}"
                f"\t{mailbox.processor_kind}\t{mailbox.status}\t{folders}"
            )
