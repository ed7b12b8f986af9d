"""Autoresponse rules of a mailbox and the conditions that select the mail they answer."""

from __future__ import annotations

from django.db import models

from mailroom.models.mailboxes import Mailbox
from mailroom.models.templates import EmailTemplate


class AutoResponseRule(models.Model):
    """When every condition holds, answer the sender with ``template``."""

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="rules")
    name = models.CharField(max_length=100)
    active = models.BooleanField(default=True)
    template = models.ForeignKey(EmailTemplate, on_delete=models.PROTECT, related_name="rules")

    class Meta:
        ordering = ("mailbox", "name")
        constraints = [
            models.UniqueConstraint(fields=("mailbox", "name"), name="rule_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class ConditionField(models.TextChoices):
    """The part of the email a condition looks at."""

    SUBJECT = "subject", "Subject"
    FROM = "from", "From"
    TO = "to", "To"
    CC = "cc", "Cc"
    BODY = "body", "Body"


class ConditionOperator(models.TextChoices):
    """How a condition compares the field with its value (case-insensitive)."""

    CONTAINS = "contains", "contains"
    NOT_CONTAINS = "not_contains", "does not contain"
    EQUALS = "equals", "is equal to"
    STARTS_WITH = "starts_with", "starts with"
    ENDS_WITH = "ends_with", "ends with"


class RuleCondition(models.Model):
    """One test of a rule; a rule's conditions are combined with AND."""

    rule = models.ForeignKey(AutoResponseRule, on_delete=models.CASCADE, related_name="conditions")
    field = models.CharField(max_length=20, choices=ConditionField.choices)
    operator = models.CharField(max_length=20, choices=ConditionOperator.choices)
    value = models.CharField(max_length=500, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ("rule", "position", "id")

    def __str__(self) -> str:
        return f"{self.field} {self.operator} {self.value!r}"
