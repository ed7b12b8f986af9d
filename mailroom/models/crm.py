"""The records incoming mail can become: Leads and Cases, and the lists they refer to."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from mailroom.models.conversations import Contact, Conversation
from mailroom.models.messages import Message


class LeadSource(models.Model):
    """Where a lead came from (an administrator-managed list: Email, Website, Partner …).

    An option in use is never deleted, only deactivated: it stays on the Leads that name it
    but is no longer offered. At most one option is the default.
    """

    name = models.CharField(max_length=100, unique=True)
    position = models.PositiveIntegerField(default=0)
    is_default = models.BooleanField(default=False)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ("position", "name")
        constraints = [
            models.UniqueConstraint(
                fields=("is_default",),
                condition=models.Q(is_default=True),
                name="lead_source_one_default",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class SalesChannel(models.Model):
    """A sales channel; "Create a Lead" needs at least one active channel."""

    name = models.CharField(max_length=100, unique=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class LeadStatus(models.TextChoices):
    """Where a lead stands."""

    NEW = "new", "New"
    QUALIFIED = "qualified", "Qualified"
    DISQUALIFIED = "disqualified", "Disqualified"
    CONVERTED = "converted", "Converted"


class Lead(models.Model):
    """A prospective customer, created from an email or by hand."""

    name = models.CharField(max_length=300)
    email = models.CharField(max_length=320, blank=True)
    topic = models.CharField(max_length=998, blank=True)
    notes = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=LeadStatus.choices, default=LeadStatus.NEW)
    source = models.ForeignKey(LeadSource, on_delete=models.SET_NULL, null=True, blank=True)
    channel = models.ForeignKey(SalesChannel, on_delete=models.SET_NULL, null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    # The message the Lead was made from; the conversation holds it and every reply.
    message = models.OneToOneField(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="lead"
    )
    conversation = models.OneToOneField(
        Conversation, on_delete=models.SET_NULL, null=True, blank=True, related_name="lead"
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="leads"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-id",)

    def __str__(self) -> str:
        return self.name


class CaseStatus(models.TextChoices):
    """Where a case stands."""

    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


class CasePriority(models.TextChoices):
    """How urgent a case is."""

    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"


class Case(models.Model):
    """A support case, created from an email or by hand. ``number`` is what people quote."""

    number = models.PositiveBigIntegerField(unique=True, null=True, blank=True)
    subject = models.CharField(max_length=998)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=CaseStatus.choices, default=CaseStatus.OPEN)
    priority = models.CharField(
        max_length=20, choices=CasePriority.choices, default=CasePriority.NORMAL
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_cases",
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_cases",
    )
    # The message the Case was made from; the conversation holds it and every reply.
    message = models.OneToOneField(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="case"
    )
    conversation = models.OneToOneField(
        Conversation, on_delete=models.SET_NULL, null=True, blank=True, related_name="case"
    )
    # The reporter.
    contact = models.ForeignKey(
        Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="cases"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-id",)

    def __str__(self) -> str:
        return f"#{self.number} {self.subject}"


class RecordChange(models.Model):
    """One change a person made to a Lead or a Case: who, when, which field, from what to what."""

    lead = models.ForeignKey(
        Lead, on_delete=models.CASCADE, null=True, blank=True, related_name="changes"
    )
    case = models.ForeignKey(
        Case, on_delete=models.CASCADE, null=True, blank=True, related_name="changes"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    field = models.CharField(max_length=50)
    old = models.CharField(max_length=300, blank=True)
    new = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("at", "id")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(lead__isnull=False, case__isnull=True)
                | models.Q(lead__isnull=True, case__isnull=False),
                name="record_change_one_record",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.field}: {self.old} -> {self.new}"
