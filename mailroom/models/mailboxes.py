"""System mailboxes, how to reach their servers, and the folders that are synced."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models

from mailroom.credentials import decrypt_secret, encrypt_secret


class Encryption(models.TextChoices):
    """How a connection to a mail server is protected."""

    SSL = "ssl", "SSL/TLS"
    STARTTLS = "starttls", "STARTTLS"
    NONE = "none", "None (plain text)"


class AccountType(models.TextChoices):
    """Which kind of account the mailbox is; only plain IMAP/SMTP for now."""

    OTHER = "other", "Other (IMAP/SMTP)"


class MailboxStatus(models.TextChoices):
    """The last known health of the mailbox's connection."""

    NEW = "new", "Not synced yet"
    OK = "ok", "Working"
    AUTH_ERROR = "auth_error", "Authentication failed"
    DEGRADED = "degraded", "Server unreachable, retrying"
    ERROR = "error", "Error"
    DISABLED = "disabled", "IMAP disabled"


class HistoryMode(models.TextChoices):
    """How much of the mail already on the server a newly connected account imports."""

    NONE = "none", "None: only mail that arrives from now on"
    DAYS = "days", "The last N days"
    ALL = "all", "All of it"


class Mailbox(models.Model):
    """A shared address (support@, sales@ …) whose mail mailroom stores and processes."""

    label = models.CharField(max_length=100, unique=True)
    email = models.EmailField(max_length=254)
    account_type = models.CharField(
        max_length=20, choices=AccountType.choices, default=AccountType.OTHER
    )
    processor_kind = models.CharField(max_length=50, default="none")
    processor_settings = models.JSONField(default=dict, blank=True)
    authorized_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="authorized_mailboxes"
    )
    authorized_groups = models.ManyToManyField(
        Group, blank=True, related_name="authorized_mailboxes"
    )
    status = models.CharField(
        max_length=20, choices=MailboxStatus.choices, default=MailboxStatus.NEW
    )
    status_detail = models.TextField(blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # A change of host, login or account type is a new account: its folders start fresh and
    # the mail stored so far stays, marked with the account version it came from.
    account_version = models.PositiveIntegerField(default=1)
    account_started_at = models.DateTimeField(null=True, blank=True)
    history_mode = models.CharField(
        max_length=10, choices=HistoryMode.choices, default=HistoryMode.NONE
    )
    history_days = models.PositiveIntegerField(null=True, blank=True)
    # Whether history (mail older than the account) goes through the processor (Lead, Case).
    history_convert = models.BooleanField(default=False)
    # The language answers are written in when the sender's is not known (a language tag such
    # as "de"); empty: each response's own default language.
    language = models.CharField(max_length=35, blank=True)
    # Other addresses whose mail reaches this mailbox, one per line: mail naming one of them
    # counts as addressed to the mailbox (autoresponse rules answer it).
    aliases = models.TextField(blank=True)
    # Where replies written in mailroom are copied (IMAP APPEND); empty: the server's
    # SPECIAL-USE \Sent folder, found when the first reply is copied.
    sent_folder = models.CharField(max_length=500, blank=True)

    # Bumped whenever the user name or password changes; a refused login is not tried again
    # with the same credential version.
    credential_version = models.PositiveIntegerField(default=1)
    auth_failed_version = models.PositiveIntegerField(null=True, blank=True)
    # Transient failures: when they began, how many in a row, when to try again.
    failing_since = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveIntegerField(default=0)
    retry_at = models.DateTimeField(null=True, blank=True)
    # The IDLE watcher that holds this mailbox (scale-out: several ``watch`` processes).
    watch_owner = models.CharField(max_length=64, blank=True)
    watch_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("label",)
        verbose_name_plural = "mailboxes"

    def __str__(self) -> str:
        return f"{self.label} <{self.email}>"

    def own_addresses(self) -> set[str]:
        """The mailbox's address and its aliases, lower-cased."""
        lines = [self.email, *self.aliases.splitlines()]
        return {line.strip().lower() for line in lines if line.strip()}


class MailboxConnection(models.Model):
    """IMAP and SMTP settings of one mailbox, kept apart from it; the password is encrypted."""

    mailbox = models.OneToOneField(Mailbox, on_delete=models.CASCADE, related_name="connection")
    imap_enabled = models.BooleanField(default=True)
    imap_host = models.CharField(max_length=253, blank=True)
    imap_port = models.PositiveIntegerField(default=993)
    imap_encryption = models.CharField(
        max_length=10, choices=Encryption.choices, default=Encryption.SSL
    )
    smtp_enabled = models.BooleanField(default=True)
    smtp_host = models.CharField(max_length=253, blank=True)
    smtp_port = models.PositiveIntegerField(default=465)
    smtp_encryption = models.CharField(
        max_length=10, choices=Encryption.choices, default=Encryption.SSL
    )
    username = models.CharField(max_length=254, blank=True)
    password_encrypted = models.TextField(blank=True, editable=False)

    def __str__(self) -> str:
        return f"connection of {self.mailbox_id}"

    @property
    def password(self) -> str:
        """The decrypted password; never put it in a log, a form or an export."""
        return decrypt_secret(self.password_encrypted)

    def set_password(self, plain: str) -> None:
        """Encrypt and keep ``plain`` (the caller saves)."""
        self.password_encrypted = encrypt_secret(plain)

    @property
    def has_password(self) -> bool:
        """Whether a password is stored, for "set / not set" displays."""
        return bool(self.password_encrypted)


class Folder(models.Model):
    """An IMAP folder of a mailbox and where its sync stands."""

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="folders")
    name = models.CharField(max_length=500)
    selected = models.BooleanField(default=False)
    uidvalidity = models.BigIntegerField(null=True, blank=True)
    last_uid = models.BigIntegerField(default=0)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    # Only the holder of the lease (owner token, renewed while it works) may move the cursor.
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    missing = models.BooleanField(default=False)
    # The account version the cursor belongs to; another version starts the folder fresh.
    account_version = models.PositiveIntegerField(default=1)
    # Mail that arrived on the server before this moment is history: stored, never answered.
    history_before = models.DateTimeField(null=True, blank=True)
    next_poll_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    imported = models.PositiveIntegerField(default=0)
    # Messages on the server above the cursor, as last seen: the first import's progress.
    backlog = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("mailbox", "name")
        constraints = [
            models.UniqueConstraint(fields=("mailbox", "name"), name="folder_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name
