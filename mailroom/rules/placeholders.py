"""Placeholders a rule's response uses that the mailbox's processor leaves empty.

``{{ case_number }}`` is filled only where the processor makes or joins a Case, ``{{
lead_number }}`` only where it makes a Lead, ``{{ record_url }}`` where it makes either. A rule
written for a Case mailbox keeps its text when the mailbox is switched to Leads: its answer
would then say "Your case number is ." The mailbox page and the save message say so, naming
the rule and the placeholder, so that someone fixes the text before a customer reads it.
"""

from __future__ import annotations

import re

from mailroom.models import AutoResponseRule, Mailbox

# Which processors fill each record placeholder (a plug-in's records are not known here).
_FILLED_BY = {
    "case_number": frozenset({"case"}),
    "lead_number": frozenset({"lead"}),
    "record_url": frozenset({"case", "lead"}),
}
_BUILT_IN = frozenset({"none", "case", "lead"})
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
_DOES = {
    "none": "does nothing with the mail it receives",
    "case": "converts mail to Cases",
    "lead": "converts mail to Leads",
}


def empty_placeholders(rule: AutoResponseRule, processor_kind: str) -> list[str]:
    """The record placeholders ``rule``'s response uses that ``processor_kind`` leaves empty,
    in order of name. Reads the rule's template translations (prefetch them for many rules)."""
    if processor_kind not in _BUILT_IN:
        return []
    used: set[str] = set()
    for translation in rule.template.translations.all():
        used.update(_PLACEHOLDER.findall(translation.subject))
        used.update(_PLACEHOLDER.findall(translation.body))
    return sorted(
        name for name in used if name in _FILLED_BY and processor_kind not in _FILLED_BY[name]
    )


def warning(rule: AutoResponseRule, names: list[str], processor_kind: str) -> str:
    """The sentence that says which placeholders of ``rule`` stay empty, and why."""
    shown = ", ".join("{{ " + name + " }}" for name in names)
    return (
        f"Rule “{rule.name}” uses {shown}, which stays empty in its answers: this mailbox "
        f"{_DOES[processor_kind]}. Change the response or the processor."
    )


def mailbox_warnings(mailbox: Mailbox) -> list[str]:
    """A warning for each active rule of ``mailbox`` with placeholders its processor leaves
    empty."""
    kind = mailbox.processor_kind
    rules = mailbox.rules.filter(active=True).prefetch_related("template__translations")
    found = []
    for rule in rules.order_by("position", "name"):
        names = empty_placeholders(rule, kind)
        if names:
            found.append(warning(rule, names, kind))
    return found
