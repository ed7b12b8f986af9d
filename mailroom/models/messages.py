"""Stored incoming email: the raw bytes (in file storage) and what was parsed out of them."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from mailroom.models.mailboxes import Folder, Mailbox


class Message(models.Model):
    """One email as it was on the server at (folder, UIDVALIDITY, UID).

    The raw bytes are the source of truth and are kept unchanged; every other field is derived
    from them and can be parsed again. A message whose parsing found defects is stored all the
    same, with the defects listed, never dropped.
    """

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="messages")
    # A folder unchecked or removed on the server detaches its messages; it never deletes them.
    folder = models.ForeignKey(
        Folder, on_delete=models.SET_NULL, null=True, blank=True, related_name="messages"
    )
    uidvalidity = models.BigIntegerField()
    uid = models.BigIntegerField()
    # Rows stored before the raw bytes moved into the database name a file here; newer rows
    # leave it empty and keep their bytes in RawMessage, under the same sha256.
    raw = models.FileField(upload_to="raw/", max_length=300, blank=True)
    raw_size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    internal_date = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    message_id = models.CharField(max_length=998, blank=True, db_index=True)
    in_reply_to = models.CharField(max_length=998, blank=True)
    references = models.JSONField(default=list, blank=True)
    subject = models.TextField(blank=True)
    from_name = models.CharField(max_length=300, blank=True)
    from_email = models.CharField(max_length=320, blank=True)
    # Every From address (name, email), for the loop checks; from_name/from_email is the first.
    from_all = models.JSONField(default=list, blank=True)
    to = models.JSONField(default=list, blank=True)
    cc = models.JSONField(default=list, blank=True)
    reply_to = models.JSONField(default=list, blank=True)
    # None: the message had no Return-Path; "": it was the null path <>. Both matter for loops.
    return_path = models.CharField(max_length=320, null=True, blank=True)  # noqa: DJ001
    date = models.DateTimeField(null=True, blank=True)
    headers = models.JSONField(default=list, blank=True)
    text_body = models.TextField(blank=True)
    html_body = models.TextField(blank=True)
    defects = models.JSONField(default=list, blank=True)
    is_malformed = models.BooleanField(default=False)
    # Stored but not downloaded ("too_large"), or a UID the server would not return
    # ("missing"): the row says so rather than the mail silently missing.
    placeholder = models.CharField(max_length=20, blank=True)
    # Mail that was on the server before the account was connected: stored, never answered.
    is_history = models.BooleanField(default=False)
    account_version = models.PositiveIntegerField(default=1)
    # Set by the pipeline's thread step; empty only until the message is processed.
    conversation = models.ForeignKey(
        "mailroom.Conversation",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="messages",
    )
    contact = models.ForeignKey(
        "mailroom.Contact",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="messages",
    )

    class Meta:
        ordering = ("-id",)
        constraints = [
            models.UniqueConstraint(
                fields=("folder", "uidvalidity", "uid"), name="message_unique_location"
            ),
        ]
        indexes = [
            # "Does this mailbox hold these bytes already?" is asked for every stored message.
            models.Index(fields=("mailbox", "sha256"), name="message_mailbox_sha256_idx"),
        ]

    def __str__(self) -> str:
        return self.subject or "(no subject)"

    def read_raw(self) -> bytes:
        """The message exactly as the server sent it."""
        stored = RawMessage.objects.filter(sha256=self.sha256).values_list("data", flat=True)
        data = stored.first()
        if data is not None:
            return bytes(data)
        with self.raw.open("rb") as handle:
            content: bytes = handle.read()
        return content


class RawMessage(models.Model):
    """The exact bytes of stored mail, once per distinct content.

    Kept in the database and written in the same transaction as the rows that name them: a
    crash can leave neither a truncated copy nor bytes no row refers to, and every process of
    the scale-out shape reaches them without a shared disk. Listing messages never loads them.
    """

    sha256 = models.CharField(max_length=64, primary_key=True)
    data = models.BinaryField()

    def __str__(self) -> str:
        return self.sha256


class MessageCopy(models.Model):
    """A further location of a stored message: the same bytes in another synced folder."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="copies")
    folder = models.ForeignKey(
        Folder, on_delete=models.SET_NULL, null=True, blank=True, related_name="copies"
    )
    uidvalidity = models.BigIntegerField()
    uid = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("folder", "uidvalidity", "uid"), name="message_copy_unique_location"
            ),
        ]

    def __str__(self) -> str:
        return f"copy of {self.message_id} at {self.folder_id}/{self.uidvalidity}/{self.uid}"


class Attachment(models.Model):
    """An attachment of a stored message; its bytes stay inside the raw message."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    filename = models.CharField(max_length=500, blank=True)
    content_type = models.CharField(max_length=200)
    size = models.PositiveIntegerField()
    content_id = models.CharField(max_length=500, blank=True)
    part = models.CharField(max_length=100)

    class Meta:
        ordering = ("message", "id")

    def __str__(self) -> str:
        return self.filename or self.content_type


class MessageRead(models.Model):
    """A person has opened a message: unread state is per person, not per mailbox."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="messages_read"
    )
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reads")
    read_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("user", "message"), name="message_read_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} read {self.message_id}"
