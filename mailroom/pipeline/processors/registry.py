"""The registry of processors: stored ``Mailbox.processor_kind`` → label and class.

Adding a processor is one module, one line here and one test file (see CONTRIBUTING.md).
Classes are imported only when used.
"""

from __future__ import annotations

from importlib import import_module

from mailroom.pipeline.processors.base import Processor, ProcessorError

PROCESSORS: dict[str, tuple[str, str]] = {
    "none": ("Do nothing (keep in mailbox)", "mailroom.pipeline.processors.keep.KeepProcessor"),
    "lead": ("Convert to Lead", "mailroom.pipeline.processors.lead.CreateLeadProcessor"),
    "case": ("Convert to Case", "mailroom.pipeline.processors.case.CreateCaseProcessor"),
}


def processor_choices() -> list[tuple[str, str]]:
    """(kind, label) pairs for forms and the CLI."""
    return [(kind, label) for kind, (label, _path) in PROCESSORS.items()]


def processor_label(kind: str) -> str:
    """The label shown for ``kind``; an unregistered kind is shown as it is stored."""
    return PROCESSORS[kind][0] if kind in PROCESSORS else kind


def load_processor(kind: str) -> Processor:
    """An instance of the processor registered under ``kind``."""
    try:
        _label, dotted = PROCESSORS[kind]
    except KeyError:
        raise ProcessorError(f"no processor is registered as {kind!r}", permanent=True) from None
    module_name, class_name = dotted.rsplit(".", 1)
    cls = getattr(import_module(module_name), class_name)
    if not (isinstance(cls, type) and issubclass(cls, Processor)):
        raise ProcessorError(f"{dotted} is not a Processor", permanent=True)
    return cls()
