"""Create Leads and Cases. Callers validate; these assume valid input and run in the
caller's transaction."""

from __future__ import annotations

from django.contrib.auth.models import User

from mailroom.mime.html_text import html_to_text
from mailroom.mime.parse import ParsedMessage
from mailroom.models import (
    Case,
    CaseStatus,
    Contact,
    Conversation,
    Lead,
    LeadSource,
    LeadStatus,
    Message,
    RecordChange,
    SalesChannel,
)

NO_SUBJECT = "(no subject)"


def body_text(parsed: ParsedMessage) -> str:
    """The text of the message: its text part, else its HTML part as readable text."""
    if parsed.text_body.strip():
        return parsed.text_body
    return html_to_text(parsed.html_body) if parsed.html_body else ""


def create_lead_from_message(
    message: Message,
    parsed: ParsedMessage,
    *,
    owner: User | None,
    source: LeadSource | None,
    channel: SalesChannel | None,
    conversation: Conversation | None = None,
    contact: Contact | None = None,
) -> Lead:
    """A Lead for the sender of ``message``, named after them (or their address), its topic
    the subject and its notes the text of the message."""
    sender = parsed.from_[0] if parsed.from_ else None
    email = sender.email if sender else ""
    name = (sender.name if sender and sender.name else email) or "(unknown sender)"
    return Lead.objects.create(
        name=name[:300],
        email=email[:320],
        topic=(parsed.subject.strip() or NO_SUBJECT)[:998],
        notes=body_text(parsed),
        status=LeadStatus.NEW,
        source=source,
        channel=channel,
        owner=owner,
        message=message,
        conversation=conversation,
        contact=contact,
    )


def create_case_from_message(
    message: Message,
    parsed: ParsedMessage,
    *,
    owner: User | None,
    assignee: User | None,
    priority: str,
    conversation: Conversation | None = None,
    contact: Contact | None = None,
) -> Case:
    """A Case whose subject and description are the message's subject and text."""
    case = Case.objects.create(
        subject=(parsed.subject or NO_SUBJECT)[:998],
        description=body_text(parsed),
        owner=owner,
        assignee=assignee,
        priority=priority,
        message=message,
        conversation=conversation,
        contact=contact,
    )
    # The case number is the row's id: unique, increasing and free of races.
    case.number = case.pk
    case.save(update_fields=["number"])
    return case


def reopen_case(case: Case) -> None:
    """Open ``case`` again (a reply came in after it was closed); the change is recorded."""
    old = case.status
    case.status = CaseStatus.OPEN
    case.save(update_fields=["status"])
    RecordChange.objects.create(case=case, user=None, field="status", old=old, new=case.status)
