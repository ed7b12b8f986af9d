"""The placeholders a response template may use, and their values: plain data, documented in
``docs/configuration.md`` and listed beside the editor. Values are text; the renderer escapes
them for HTML and puts them in one pass, so a value never becomes a tag or a placeholder."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.urls import reverse
from django.utils import timezone

from mailroom import conf
from mailroom.models import Case, Lead, Mailbox


@dataclass(frozen=True)
class Placeholder:
    """A placeholder's name, what it holds, and the value the editor's preview shows."""

    name: str
    meaning: str
    sample: str


PLACEHOLDER_LIST = (
    Placeholder("sender_name", "the sender's name (their address if they gave none)", "Ann Weber"),
    Placeholder("sender_email", "the address the answer goes to", "ann.weber@example.com"),
    Placeholder("subject", "the subject of the email answered", "Printer prints blank pages"),
    Placeholder("mailbox_label", "the mailbox's label", "Support"),
    Placeholder("mailbox_email", "the mailbox's address", "support@example.com"),
    Placeholder("case_number", "the number of the Case the email created or joined", "12"),
    Placeholder("lead_number", "the number of the Lead the email created or joined", "7"),
    Placeholder(
        "record_url",
        "a link to that Case or Lead (needs MAILROOM_BASE_URL)",
        "https://mailroom.example.com/cases/12/",
    ),
    Placeholder("date", "the day the email was received, e.g. 2 December 2026", "2 December 2026"),
)


def day(moment: datetime | None) -> str:
    """A day as people write it, in English: "2 December 2026"."""
    if moment is None:
        return ""
    local = timezone.localtime(moment) if timezone.is_aware(moment) else moment
    return f"{local.day} {local.strftime('%B %Y')}"


def record_values(conversation_id: int | None, case_number: int | None) -> dict[str, str]:
    """case_number, lead_number and record_url of the conversation's Case or Lead."""
    case = (
        Case.objects.filter(conversation_id=conversation_id).first()
        if conversation_id is not None
        else None
    )
    lead = (
        Lead.objects.filter(conversation_id=conversation_id).first()
        if conversation_id is not None
        else None
    )
    number = case_number if case_number is not None else (case.number if case else None)
    url = ""
    if conf.BASE_URL and case is not None:
        url = conf.BASE_URL + reverse("case-detail", args=[case.pk])
    elif conf.BASE_URL and lead is not None:
        url = conf.BASE_URL + reverse("lead-detail", args=[lead.pk])
    return {
        "case_number": "" if number is None else str(number),
        "lead_number": "" if lead is None else str(lead.pk),
        "record_url": url,
    }


def sample_values(mailbox: Mailbox | None) -> dict[str, str]:
    """The preview's values: the samples, with the mailbox's own label and address."""
    values = {p.name: p.sample for p in PLACEHOLDER_LIST}
    if mailbox is not None:
        values |= {"mailbox_label": mailbox.label, "mailbox_email": mailbox.email}
    return values
