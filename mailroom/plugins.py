"""What a processor package imports from mailroom: the stable names of the plug-in interface.

A package adds a processor by subclassing :class:`Processor` and naming the class in its
entry-point group ``mailroom.processors`` (``docs/adding-a-processor.md``). Everything a
processor needs is here; the modules behind these names may move, these names do not.
"""

from __future__ import annotations

from mailroom.crm.actions import create_case_from_message, create_lead_from_message
from mailroom.pipeline.base import Context
from mailroom.pipeline.processors.base import Action, Processor, ProcessorError, ProcessorResult
from mailroom.pipeline.processors.registry import GROUP
from mailroom.pipeline.processors.settings import ProcessorSettings, user_field

__all__ = [
    "GROUP",
    "Action",
    "Context",
    "Processor",
    "ProcessorError",
    "ProcessorResult",
    "ProcessorSettings",
    "create_case_from_message",
    "create_lead_from_message",
    "user_field",
]
