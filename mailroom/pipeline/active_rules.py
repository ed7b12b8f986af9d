"""The active autoresponse rules of a mailbox, with their conditions and templates, kept in
memory between processing batches.

Loading them took four queries per mailbox and batch, the largest cost of answering a pushed
message. Any save or delete of a rule, condition, template, translation or mailbox in this
process drops the whole cache at once (the embedded shape edits and processes in one
process); an entry also expires after ``TTL`` seconds, the longest a rule edited by another
process (the scale-out shape) goes unseen.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from django.db.models.signals import post_delete, post_save

from mailroom.models import (
    AutoResponseRule,
    EmailTemplate,
    EmailTemplateTranslation,
    Mailbox,
    RuleCondition,
)

TTL = 30.0

_lock = threading.Lock()
_generation = 0
_entries: dict[int, tuple[float, int, list[AutoResponseRule]]] = {}


def active_rules(mailbox: Mailbox) -> list[AutoResponseRule]:
    """The mailbox's active rules in evaluation order (position, then name), conditions and
    template translations prefetched."""
    now = time.monotonic()
    with _lock:
        entry = _entries.get(mailbox.pk)
        generation = _generation
    if entry is not None and entry[1] == generation and now - entry[0] < TTL:
        return entry[2]
    rules = list(
        mailbox.rules.filter(active=True)
        .order_by("position", "name")
        .select_related("template")
        .prefetch_related("conditions", "template__translations")
    )
    with _lock:
        if generation == _generation:
            _entries[mailbox.pk] = (now, generation, rules)
    return rules


def forget_all(**kwargs: Any) -> None:
    """Drop every cached entry (connected to the save and delete signals below)."""
    global _generation
    with _lock:
        _generation += 1
        _entries.clear()


for _model in (AutoResponseRule, RuleCondition, EmailTemplate, EmailTemplateTranslation, Mailbox):
    post_save.connect(forget_all, sender=_model, dispatch_uid=f"active_rules_{_model.__name__}")
    post_delete.connect(forget_all, sender=_model, dispatch_uid=f"active_rules_d_{_model.__name__}")
