"""Replies waiting to be sent: a transactional outbox with the Message-ID fixed up front."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from mailroom.models.mailboxes import Mailbox
from mailroom.models.messages import Message
from mailroom.models.rules import AutoResponseRule


class OutboxState(models.TextChoices):
    """Life of an outgoing message. ``abandoned`` means the send may or may not have happened
    (the connection broke after the data was handed over), so it is not tried again."""

    PENDING = "pending", "Waiting to be sent"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Refused by the server"
    ABANDONED = "abandoned", "Outcome unknown, not retried"


class SentCopy(models.TextChoices):
    """Whether a reply written in mailroom was copied to the server's Sent folder (IMAP APPEND).
    Autoresponses are not copied (``none``)."""

    NONE = "", "Not copied"
    PENDING = "pending", "To be copied to Sent"
    SAVED = "saved", "Copied to Sent"
    FAILED = "failed", "Could not be copied to Sent"


class OutboxMessage(models.Model):
    """A reply to send through the mailbox's SMTP server, composed before the first attempt."""

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="outbox")
    in_reply_to = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="replies"
    )
    rule = models.ForeignKey(
        AutoResponseRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="replies"
    )
    message_id = models.CharField(max_length=998, unique=True)
    to_email = models.CharField(max_length=320)
    subject = models.TextField(blank=True)
    raw = models.BinaryField()
    state = models.CharField(
        max_length=20, choices=OutboxState.choices, default=OutboxState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    # Set just before the message data goes out: an attempt interrupted before this moment
    # is retried, one interrupted after it is never sent again.
    data_started_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # A reply a person wrote in mailroom (an autoresponse names its rule instead).
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="replies_written",
    )
    cc = models.JSONField(default=list, blank=True)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    sent_copy = models.CharField(
        max_length=10, choices=SentCopy.choices, default=SentCopy.NONE, blank=True
    )
    sent_copy_folder = models.CharField(max_length=500, blank=True)
    sent_copy_error = models.TextField(blank=True)

    class Meta:
        ordering = ("-id",)
        indexes = [
            # Counting what waits or failed, per mailbox (the Health page, /metrics, the sweep)
            # reads this index, not the rows and their raw bytes.
            models.Index(fields=("state", "mailbox"), name="outbox_state_mailbox_idx"),
        ]
        constraints = [
            # One answer per rule per incoming message, however often it is processed.
            models.UniqueConstraint(
                fields=("in_reply_to", "rule"), name="outbox_one_reply_per_rule"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} -> {self.to_email}"
