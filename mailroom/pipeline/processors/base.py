"""The one base class every processor implements, and the typed result it returns."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from django.contrib.auth.models import User
from django.db.models import QuerySet

from mailroom.models import Case, Lead
from mailroom.pipeline.base import Context, StepError
from mailroom.pipeline.processors.settings import ProcessorSettings, form_errors, reader_errors


class ProcessorError(StepError):
    """The processor could not handle the message; ``permanent`` errors are not retried."""


class Action(StrEnum):
    """What a processor did with a message."""

    CREATED = "created"
    JOINED = "joined"
    REOPENED = "reopened"
    NOTHING = "nothing"


@dataclass(frozen=True)
class ProcessorResult:
    """What a processor created or joined, or why it did nothing (``reason``)."""

    action: Action
    lead: Lead | None = None
    case: Case | None = None
    reason: str = ""

    @classmethod
    def nothing(cls, reason: str) -> ProcessorResult:
        return cls(Action.NOTHING, reason=reason)

    def describe(self) -> str:
        """One line for the audit record: "case #3 created", "joined lead 7", "not converted: …"."""
        if self.action is Action.NOTHING:
            return self.reason
        if self.case is not None:
            what = f"case #{self.case.number}"
        elif self.lead is not None:
            what = f"lead {self.lead.pk}"
        else:
            what = "record"
        text = {
            Action.CREATED: f"{what} created",
            Action.JOINED: f"joined {what}",
            Action.REOPENED: f"{what} reopened",
        }[self.action]
        return f"{text} ({self.reason})" if self.reason else text


class Processor(ABC):
    """Turns an incoming message into something (or nothing). Runs inside the pipeline's
    transaction, so whatever it creates is committed together with the audit record.

    The thread step ran before: ``ctx.conversation`` is the message's conversation (with its
    Lead and Case, if any), ``ctx.contact`` the sender, ``ctx.automated_reason`` set for
    automatic mail."""

    # Stored in ``Mailbox.processor_kind``: lowercase letters, digits, "-" and "_". A plug-in's
    # entry point has this name.
    kind: ClassVar[str]
    # Shown in the mailbox form's "Email processing" choice and on the mailbox page.
    label: ClassVar[str]
    # The processor's settings, shown under the choice when it is chosen (None: it has none).
    settings_form: ClassVar[type[ProcessorSettings] | None] = None

    @abstractmethod
    def process(self, ctx: Context, settings: dict[str, Any]) -> ProcessorResult:
        """Handle the message; say what was created or joined, or why nothing."""

    def reader_errors(self, settings: dict[str, Any], readers: QuerySet[User]) -> dict[str, str]:
        """Errors of settings naming a user (an owner, an assignee) who is not among
        ``readers``, the people who can read the mailbox: a record is owned by someone who
        can open it. Checked by the mailbox form (through the settings form), the CLI and
        ``config import``."""
        if self.settings_form is None:
            return {}
        return reader_errors(self.settings_form, settings, readers)

    def validate_settings(self, settings: dict[str, Any]) -> dict[str, str]:
        """Field errors in ``settings`` (empty when they are valid), by setting name; checked
        by the mailbox form, the CLI and ``config import``. By default, the settings form's."""
        if self.settings_form is None:
            return {}
        return form_errors(self.settings_form, settings)
