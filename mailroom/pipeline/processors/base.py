"""The one base class every processor implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from mailroom.pipeline.base import Context, StepError


class ProcessorError(StepError):
    """The processor could not handle the message; ``permanent`` errors are not retried."""


class Processor(ABC):
    """Turns an incoming message into something (or nothing). Runs inside the pipeline's
    transaction, so whatever it creates is committed together with the audit record."""

    kind: ClassVar[str]
    label: ClassVar[str]

    @abstractmethod
    def process(self, ctx: Context, settings: dict[str, Any]) -> str:
        """Handle the message; return a short note of what was created ("" for nothing)."""

    def validate_settings(self, settings: dict[str, Any]) -> dict[str, str]:
        """Field errors in ``settings`` (empty when they are valid)."""
        return {}
