"""mailroom's data model, one module per aggregate, re-exported here."""

from mailroom.models.crm import Case, CasePriority, CaseStatus, Lead, LeadSource, SalesChannel
from mailroom.models.mailboxes import (
    AccountType,
    Encryption,
    Folder,
    Mailbox,
    MailboxConnection,
    MailboxStatus,
)
from mailroom.models.messages import Attachment, Message
from mailroom.models.outbox import OutboxMessage, OutboxState
from mailroom.models.processing import ProcessingRecord, ProcessingState
from mailroom.models.rules import (
    AutoResponseRule,
    ConditionField,
    ConditionOperator,
    RuleCondition,
)
from mailroom.models.templates import EmailTemplate, EmailTemplateTranslation, TemplateType

__all__ = [
    "AccountType",
    "Attachment",
    "AutoResponseRule",
    "Case",
    "CasePriority",
    "CaseStatus",
    "ConditionField",
    "ConditionOperator",
    "EmailTemplate",
    "EmailTemplateTranslation",
    "Encryption",
    "Folder",
    "Lead",
    "LeadSource",
    "Mailbox",
    "MailboxConnection",
    "MailboxStatus",
    "Message",
    "OutboxMessage",
    "OutboxState",
    "ProcessingRecord",
    "ProcessingState",
    "RuleCondition",
    "SalesChannel",
    "TemplateType",
]
