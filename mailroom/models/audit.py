"""The audit log of connection checks: who had mailroom connect to which server, and when."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from mailroom.models.mailboxes import Mailbox


class CheckOutcome(models.TextChoices):
    WORKED = "worked", "worked"
    FAILED = "failed", "failed"
    # Over the rate limit: mailroom connected to nothing.
    REFUSED = "refused", "refused (too many checks)"


class ConnectionCheck(models.Model):
    """One "Check connection" asked for in the product (threats.md S07, S19).

    A check logs in to a server an administrator names, with a password they type: the log says
    who tried which server and account, from where, and what came of it (the error as the page
    showed it; never the password). It also counts each person's checks for the rate limit.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    mailbox = models.ForeignKey(Mailbox, on_delete=models.SET_NULL, null=True, related_name="+")
    address = models.GenericIPAddressField(null=True, blank=True)
    imap_host = models.CharField(max_length=253)
    imap_port = models.PositiveIntegerField()
    smtp_host = models.CharField(max_length=253, blank=True)
    smtp_port = models.PositiveIntegerField(null=True, blank=True)
    username = models.CharField(max_length=320)
    outcome = models.CharField(max_length=10, choices=CheckOutcome.choices)
    error = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-id",)
        indexes = [models.Index(fields=("user", "at"), name="check_user_time_idx")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.imap_host}:{self.imap_port} {self.outcome}"
