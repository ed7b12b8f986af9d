"""Alerts for administrators: one open alert per problem, resolved when the problem goes away."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from mailroom.models.mailboxes import Mailbox


class Alert(models.Model):
    """Something an administrator should know: a refused login, a renumbered folder, …

    ``key`` names the problem (``"auth"``, ``"degraded"``, ``"uidvalidity:INBOX"``); at most one
    alert per mailbox and key is open at a time, so a problem that persists alerts once.
    """

    mailbox = models.ForeignKey(
        Mailbox, on_delete=models.CASCADE, null=True, blank=True, related_name="alerts"
    )
    key = models.CharField(max_length=200)
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-id",)
        constraints = [
            models.UniqueConstraint(
                fields=("mailbox", "key"),
                condition=Q(resolved_at__isnull=True),
                name="alert_one_open_per_problem",
            ),
        ]

    def __str__(self) -> str:
        return self.text
