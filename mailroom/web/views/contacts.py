"""Screen: a Contact, the person behind a sender address, and what of theirs the user may read.

The page lists the Contact's Leads, Cases, conversations and messages of the mailboxes the
user may read, and nothing of the others: a Contact known only from mailboxes the user may
not read does not exist for them (404).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Count, F
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from mailroom.access.policy import (
    access_contact,
    cases_visible_to,
    conversations_visible_to,
    leads_visible_to,
    messages_visible_to,
)

# The page shows the latest messages only; a busy sender has thousands.
MESSAGES_SHOWN = 50


@login_required
@require_GET
def contact_detail(request: HttpRequest, contact_id: int) -> HttpResponse:
    user = request.user
    contact = access_contact(user, contact_id)
    leads = leads_visible_to(user).filter(contact=contact)
    cases = cases_visible_to(user).filter(contact=contact)
    conversations = conversations_visible_to(user).filter(contact=contact)
    messages = messages_visible_to(user).filter(contact=contact)
    context = {
        "contact": contact,
        "leads": leads.select_related("owner", "conversation", "message__mailbox"),
        "cases": cases.select_related("assignee", "conversation", "message__mailbox"),
        "conversations": conversations.select_related("mailbox", "lead", "case").annotate(
            message_count=Count("messages")
        ),
        "contact_messages": messages.select_related("mailbox").order_by(
            F("date").desc(nulls_last=True), "-id"
        )[:MESSAGES_SHOWN],
        "message_count": messages.count(),
        "messages_shown": MESSAGES_SHOWN,
    }
    return render(request, "mailroom/contact_detail.html", context)
