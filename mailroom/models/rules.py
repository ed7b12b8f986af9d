"""Autoresponse rules of a mailbox and the conditions that select the mail they answer."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models.signals import post_delete

from mailroom.models.mailboxes import Mailbox
from mailroom.models.templates import EmailTemplate

# The longest condition value (a list of values, one per line, or a pattern).
VALUE_MAX_LENGTH = 2000


class AutoResponseRule(models.Model):
    """When every condition holds, answer the sender with ``template``.

    ``template`` is either a library template (``in_library``), which several rules may pick,
    or the rule's own inline response (``in_library`` False), which belongs to this rule only
    and is deleted with it (see :mod:`mailroom.rules.actions`). Rules are evaluated by
    ``position``, then name; when a rule with ``stop_after`` matches a message, the rules after
    it are not evaluated for that message, whether its reply is then sent or held back by the
    loop rules (so a catch-all rule placed after it does not answer instead).
    """

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="rules")
    name = models.CharField(max_length=100)
    active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)
    stop_after = models.BooleanField(
        default=False, help_text="Later rules are not evaluated for a message this rule matches."
    )
    case_sensitive = models.BooleanField(
        default=False, help_text="Compare condition values with the message case-sensitively."
    )
    # RFC 3834 §2 / autoresponder.md A29: mail that does not name the mailbox (or an alias) in
    # To, Cc, Bcc or Resent-* (a Bcc copy, a catch-all) is not answered unless the rule says so.
    answer_unaddressed = models.BooleanField(
        default=False,
        help_text="Also answer mail that does not name the mailbox's address or an alias.",
    )
    template = models.ForeignKey(EmailTemplate, on_delete=models.PROTECT, related_name="rules")

    class Meta:
        ordering = ("mailbox", "position", "name")
        constraints = [
            models.UniqueConstraint(fields=("mailbox", "name"), name="rule_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class ConditionField(models.TextChoices):
    """The part of the email a condition looks at."""

    SUBJECT = "subject", "Subject"
    BODY = "body", "Body"
    FROM = "from", "From"
    TO = "to", "To"
    CC = "cc", "Cc"
    # Known only when the server delivers a Bcc header (mail we sent ourselves, some servers'
    # copies for the blind recipient); otherwise the field is empty.
    BCC = "bcc", "Bcc"


class ConditionOperator(models.TextChoices):
    """How a condition compares the field with its value (case-insensitive unless the rule
    is case-sensitive). ``any_of`` and ``not_any_of`` take one value per line; ``is_empty``
    and ``not_empty`` take none; ``regex`` takes an RE2 pattern."""

    CONTAINS = "contains", "contains"
    NOT_CONTAINS = "not_contains", "does not contain"
    EQUALS = "equals", "is equal to"
    NOT_EQUALS = "not_equals", "is not equal to"
    STARTS_WITH = "starts_with", "starts with"
    ENDS_WITH = "ends_with", "ends with"
    ANY_OF = "any_of", "is any of"
    NOT_ANY_OF = "not_any_of", "is not any of"
    IS_EMPTY = "is_empty", "is empty"
    NOT_EMPTY = "not_empty", "is not empty"
    REGEX = "regex", "matches regex"


class RuleCondition(models.Model):
    """One test of a rule; a rule's conditions are combined with AND."""

    rule = models.ForeignKey(AutoResponseRule, on_delete=models.CASCADE, related_name="conditions")
    field = models.CharField(max_length=20, choices=ConditionField.choices)
    operator = models.CharField(max_length=20, choices=ConditionOperator.choices)
    value = models.CharField(max_length=VALUE_MAX_LENGTH, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ("rule", "position", "id")

    def __str__(self) -> str:
        return f"{self.field} {self.operator} {self.value!r}"


def _delete_inline_response(
    sender: type[AutoResponseRule], instance: AutoResponseRule, **kwargs: Any
) -> None:
    """A deleted rule's inline response goes with it (however the rule was deleted)."""
    EmailTemplate.objects.filter(pk=instance.template_id, in_library=False).delete()


post_delete.connect(
    _delete_inline_response, sender=AutoResponseRule, dispatch_uid="rule_inline_response"
)
