"""What every step sees and may return."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from mailroom.mime.parse import ParsedMessage
from mailroom.models import (
    Case,
    Contact,
    Conversation,
    Lead,
    Mailbox,
    Message,
    ProcessingRecord,
)


@dataclass
class Context:
    """The message being processed and what earlier steps found out about it."""

    message: Message
    mailbox: Mailbox
    parsed: ParsedMessage
    record: ProcessingRecord
    automated_reason: str | None = None
    # What kind of automatic mail it is ("delivery failed", "out of office", …), "" if none.
    automated_kind: str = ""
    created: list[str] = field(default_factory=list)
    case_number: int | None = None
    # Set by the thread step: the conversation the message belongs to, whether it joined an
    # existing one, and the sender's Contact.
    conversation: Conversation | None = None
    joined: bool = False
    contact: Contact | None = None
    # Set by the run_processor step: the Lead or Case created or joined.
    lead: Lead | None = None
    case: Case | None = None
    # Shared by the messages of one batch: what every message would look up the same way.
    cache: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Stop:
    """Returned by a step to end processing early, with the reason kept in the audit record."""

    reason: str


class StepError(Exception):
    """A step could not do its work. ``permanent`` errors are not retried."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Step(Protocol):
    """One small piece of processing, named in a pipeline."""

    name: ClassVar[str]
    description: ClassVar[str]

    def run(self, ctx: Context) -> str | Stop:
        """Do the step's work; return a short note for the audit record, or :class:`Stop`."""
        ...
