"""The one base class every processor implements, and the typed result it returns."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from mailroom.models import Case, Lead
from mailroom.pipeline.base import Context, StepError


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

    kind: ClassVar[str]
    label: ClassVar[str]

    @abstractmethod
    def process(self, ctx: Context, settings: dict[str, Any]) -> ProcessorResult:
        """Handle the message; say what was created or joined, or why nothing."""

    def validate_settings(self, settings: dict[str, Any]) -> dict[str, str]:
        """Field errors in ``settings`` (empty when they are valid)."""
        return {}
