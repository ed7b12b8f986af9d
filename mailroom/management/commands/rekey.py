"""``mailroom rekey``: encrypt every stored mail password with the first key.

Key rotation: put a new key first in ``MAILROOM_CREDENTIAL_KEYS`` (``new,old``), restart, run
this once, then remove the old key. Passwords no key decrypts are named and left as they are
(their mailboxes ask for the password again).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from mailroom.credentials import CredentialError, rotate_secret
from mailroom.models import MailboxConnection


class Command(BaseCommand):
    help = "Encrypt every stored mail password again with the first MAILROOM_CREDENTIAL_KEYS key."

    def handle(self, *args: Any, **options: Any) -> None:
        rotated, unreadable = 0, []
        with transaction.atomic():
            rows = MailboxConnection.objects.select_for_update().select_related("mailbox")
            for connection in rows.exclude(password_encrypted=""):
                try:
                    token = rotate_secret(connection.password_encrypted)
                except CredentialError:
                    unreadable.append(connection.mailbox.label)
                    continue
                MailboxConnection.objects.filter(pk=connection.pk).update(password_encrypted=token)
                rotated += 1
        self.stdout.write(f"{rotated} password{'s' if rotated != 1 else ''} encrypted again")
        if unreadable:
            raise CommandError(
                "no key decrypts the password of: "
                + ", ".join(sorted(unreadable))
                + " (enter it again in the mailbox's settings)"
            )
