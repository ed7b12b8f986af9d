"""The registry of processors: stored ``Mailbox.processor_kind`` → processor class.

The built-in processors are listed here; any installed package adds more through the
entry-point group ``mailroom.processors`` (``docs/adding-a-processor.md``): the entry point's
name is the processor's kind, its object a :class:`Processor` subclass. A package that fails to
load, or that names a kind already taken, is left out and logged, never fatal: mailroom runs
on, and a mailbox set to a kind that is not installed fails its messages with that reason
(they stay stored and can be processed again once it is).
"""

from __future__ import annotations

import logging
import re
from functools import cache
from importlib import import_module
from importlib.metadata import entry_points

from mailroom.pipeline.processors.base import Processor, ProcessorError

logger = logging.getLogger(__name__)

GROUP = "mailroom.processors"

BUILT_IN: dict[str, str] = {
    "none": "mailroom.pipeline.processors.keep.KeepProcessor",
    "lead": "mailroom.pipeline.processors.lead.CreateLeadProcessor",
    "case": "mailroom.pipeline.processors.case.CreateCaseProcessor",
}

# A kind is stored in ``Mailbox.processor_kind`` (50 characters) and typed on the CLI.
_KIND = re.compile(r"[a-z][a-z0-9_-]{0,49}")


def _import(dotted: str) -> object:
    module_name, name = dotted.rsplit(".", 1)
    return getattr(import_module(module_name), name)


def _checked(kind: str, obj: object, where: str) -> type[Processor]:
    if not (isinstance(obj, type) and issubclass(obj, Processor)):
        raise TypeError(f"{where} is not a mailroom Processor subclass")
    if getattr(obj, "kind", None) != kind:
        raise TypeError(f"{where} declares kind {getattr(obj, 'kind', None)!r}, not {kind!r}")
    if not _KIND.fullmatch(kind):
        raise TypeError(f"{where}: kind {kind!r} is not lowercase letters, digits, - and _")
    return obj


@cache
def registered() -> dict[str, type[Processor]]:
    """Every processor installed, built-in ones first (loaded once per process)."""
    classes = {kind: _checked(kind, _import(path), path) for kind, path in BUILT_IN.items()}
    for entry in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        where = f"entry point {entry.name} = {entry.value}"
        if entry.name in classes:
            logger.error("processor %s left out: the kind %r is taken", where, entry.name)
            continue
        try:
            classes[entry.name] = _checked(entry.name, entry.load(), where)
        except Exception:
            logger.exception("processor %s left out: it failed to load", where)
    return classes


def processor_choices() -> list[tuple[str, str]]:
    """(kind, label) pairs for forms and the CLI."""
    return [(kind, cls.label) for kind, cls in registered().items()]


def processor_label(kind: str) -> str:
    """The label shown for ``kind``; a kind not installed is shown as it is stored."""
    cls = registered().get(kind)
    return cls.label if cls is not None else f"{kind} (not installed)"


def load_processor(kind: str) -> Processor:
    """An instance of the processor registered under ``kind``."""
    cls = registered().get(kind)
    if cls is None:
        raise ProcessorError(
            f"no processor is registered as {kind!r}: is its package installed?", permanent=True
        )
    return cls()
