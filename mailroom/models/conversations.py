"""Conversations of a mailbox, the people behind the addresses, and the ids mail refers to."""

from __future__ import annotations

from django.db import models

from mailroom.models.mailboxes import Mailbox
from mailroom.models.messages import Message


class Contact(models.Model):
    """The person (or robot) behind one sender address, across all mailboxes.

    ``email`` is stored lower-case and is unique; ``language`` is the last one a message of
    theirs declared (Content-Language), "" while unknown.
    """

    email = models.CharField(max_length=320, unique=True)
    name = models.CharField(max_length=300, blank=True)
    language = models.CharField(max_length=35, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("email",)

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email


class Conversation(models.Model):
    """The messages of one exchange in one mailbox; a Lead and a Case hang on it, one each.

    ``marks`` says what automatic mail found about it ("delivery failed", "out of office", or
    why automatic mail that started it is kept apart). ``follows`` is the conversation a reply
    to a closed Case came from when the mailbox starts a new Case for such replies.
    """

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="conversations")
    subject = models.TextField(blank=True)
    contact = models.ForeignKey(
        Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="conversations"
    )
    marks = models.JSONField(default=list, blank=True)
    follows = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="followed_by"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-id",)

    def __str__(self) -> str:
        return self.subject or "(no subject)"


class MessageReference(models.Model):
    """A Message-ID a stored message names in In-Reply-To or References, indexed for threading:
    "which conversations already refer to this id?" is one index lookup, also for a parent that
    arrives after its reply."""

    IN_REPLY_TO = "in_reply_to"
    REFERENCES = "references"

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="message_refs")
    ref_id = models.CharField(max_length=998)
    header = models.CharField(
        max_length=20, choices=[(IN_REPLY_TO, "In-Reply-To"), (REFERENCES, "References")]
    )

    class Meta:
        indexes = [models.Index(fields=("mailbox", "ref_id"), name="message_ref_lookup_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=("message", "ref_id", "header"), name="message_ref_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} {self.header} {self.ref_id}"
