"""mailroom's data model, one module per aggregate, re-exported here."""

from mailroom.models.alerts import Alert
from mailroom.models.answers import AnswerRecord
from mailroom.models.audit import CheckOutcome, ConnectionCheck
from mailroom.models.conversations import Contact, Conversation, MessageReference
from mailroom.models.crm import (
    Case,
    CasePriority,
    CaseStatus,
    Lead,
    LeadSource,
    LeadStatus,
    RecordChange,
    SalesChannel,
)
from mailroom.models.mailboxes import (
    AccountType,
    Encryption,
    Folder,
    HistoryMode,
    Mailbox,
    MailboxConnection,
    MailboxStatus,
)
from mailroom.models.messages import (
    Attachment,
    Message,
    MessageCopy,
    MessageRead,
    RawMessage,
)
from mailroom.models.outbox import OutboxMessage, OutboxState, SentCopy
from mailroom.models.processing import ProcessingRecord, ProcessingState
from mailroom.models.rules import (
    AutoResponseRule,
    ConditionField,
    ConditionOperator,
    RuleCondition,
)
from mailroom.models.templates import EmailTemplate, EmailTemplateTranslation, TemplateType
from mailroom.models.watchers import WatchProcess

__all__ = [
    "AccountType",
    "Alert",
    "AnswerRecord",
    "Attachment",
    "AutoResponseRule",
    "Case",
    "CasePriority",
    "CaseStatus",
    "CheckOutcome",
    "ConditionField",
    "ConditionOperator",
    "ConnectionCheck",
    "Contact",
    "Conversation",
    "EmailTemplate",
    "EmailTemplateTranslation",
    "Encryption",
    "Folder",
    "HistoryMode",
    "Lead",
    "LeadSource",
    "LeadStatus",
    "Mailbox",
    "MailboxConnection",
    "MailboxStatus",
    "Message",
    "MessageCopy",
    "MessageRead",
    "MessageReference",
    "OutboxMessage",
    "OutboxState",
    "ProcessingRecord",
    "ProcessingState",
    "RawMessage",
    "RecordChange",
    "RuleCondition",
    "SalesChannel",
    "SentCopy",
    "TemplateType",
    "WatchProcess",
]
