"""Create Leads and Cases. Callers validate; these assume valid input and run in the
caller's transaction."""

from __future__ import annotations

from django.contrib.auth.models import User

from mailroom.mime.parse import ParsedMessage
from mailroom.models import Case, Lead, LeadSource, Message, SalesChannel


def create_lead_from_message(
    message: Message,
    parsed: ParsedMessage,
    *,
    owner: User | None,
    source: LeadSource | None,
    channel: SalesChannel | None,
) -> Lead:
    """A Lead for the sender of ``message``, named after them."""
    sender = parsed.from_[0] if parsed.from_ else None
    email = sender.email if sender else ""
    name = (sender.name if sender and sender.name else email) or "(unknown sender)"
    return Lead.objects.create(
        name=name[:300],
        email=email[:320],
        source=source,
        channel=channel,
        owner=owner,
        message=message,
    )


def create_case_from_message(
    message: Message,
    parsed: ParsedMessage,
    *,
    owner: User | None,
    assignee: User | None,
    priority: str,
) -> Case:
    """A Case whose subject and description are the message's subject and text."""
    case = Case.objects.create(
        subject=(parsed.subject or "(no subject)")[:998],
        description=parsed.text_body,
        owner=owner,
        assignee=assignee,
        priority=priority,
        message=message,
    )
    # The case number is the row's id: unique, increasing and free of races.
    case.number = case.pk
    case.save(update_fields=["number"])
    return case
