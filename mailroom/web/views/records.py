"""Screens: the Cases and Leads created from mail the user may read, and a page for each.

Each page lists the attachments of the conversation's messages, linked to their download.
A person who may read a record's mailbox may change a Lead's status and owner, or a Case's
status and assignee, on its page; each change is recorded and listed there. A record of a
mailbox the user may not read does not exist for them (404).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.db.models import F, Model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from mailroom.access.policy import cases_visible_to, leads_visible_to, readers_of
from mailroom.crm.changes import change_case, change_lead
from mailroom.models import Attachment, Case, Lead, Mailbox, Message
from mailroom.web.entity_forms import CaseChangeForm, LeadChangeForm


@login_required
def case_list(request: HttpRequest) -> HttpResponse:
    cases = cases_visible_to(request.user).select_related(
        "owner", "assignee", "contact", "conversation", "message__mailbox"
    )[:200]
    return render(request, "mailroom/case_list.html", {"cases": cases, "section": "cases"})


@login_required
def lead_list(request: HttpRequest) -> HttpResponse:
    leads = leads_visible_to(request.user).select_related(
        "owner", "source", "contact", "conversation", "message__mailbox"
    )[:200]
    return render(request, "mailroom/lead_list.html", {"leads": leads, "section": "leads"})


def _mailbox_of(record: Lead | Case) -> Mailbox | None:
    """The mailbox the record came from (None when that mail is gone)."""
    if record.conversation is not None:
        return record.conversation.mailbox
    return record.message.mailbox if record.message is not None else None


def _messages_of(record: Lead | Case) -> list[Message]:
    """The messages of the record's conversation in order, or the one it was made from."""
    if record.conversation is not None:
        thread = record.conversation.messages.select_related("folder").prefetch_related(
            "replies", "replies__author"
        )
        return list(thread.order_by(F("date").asc(nulls_last=True), "id"))
    return [record.message] if record.message is not None else []


def _attachments_of(thread: list[Message]) -> list[Attachment]:
    """The attachments of the thread's messages, in thread order, in one query."""
    position = {message.pk: index for index, message in enumerate(thread)}
    found = list(Attachment.objects.filter(message__in=list(position)).order_by("id"))
    by_pk = {message.pk: message for message in thread}
    for attachment in found:
        # The page names each attachment's message; it is loaded already.
        attachment.message = by_pk[attachment.message_id]
    return sorted(found, key=lambda attachment: position[attachment.message_id])


def _record_page(
    request: HttpRequest, template: str, record: Model, form: Any, section: str
) -> HttpResponse:
    assert isinstance(record, Lead | Case)
    thread = _messages_of(record)
    context = {
        "record": record,
        "form": form,
        "mailbox": _mailbox_of(record),
        "thread": thread,
        "attachments": _attachments_of(thread),
        "changes": record.changes.select_related("user"),
        "section": section,
    }
    return render(request, template, context, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def lead_detail(request: HttpRequest, lead_id: int) -> HttpResponse:
    lead = get_object_or_404(
        leads_visible_to(request.user).select_related(
            "owner", "source", "channel", "contact", "message__mailbox", "conversation__mailbox"
        ),
        pk=lead_id,
    )
    people = readers_of(_mailbox_of(lead))
    if request.method == "GET":
        form = LeadChangeForm(initial={"status": lead.status, "owner": lead.owner}, people=people)
        return _record_page(request, "mailroom/lead_detail.html", lead, form, "leads")
    form = LeadChangeForm(request.POST, people=people)
    if not form.is_valid():
        return _record_page(request, "mailroom/lead_detail.html", lead, form, "leads")
    assert isinstance(request.user, User)  # login_required
    changes = change_lead(
        lead, request.user, status=form.cleaned_data["status"], owner=form.cleaned_data["owner"]
    )
    messages.success(request, _changed(changes))
    return redirect("lead-detail", lead_id=lead.pk)


@login_required
@require_http_methods(["GET", "POST"])
def case_detail(request: HttpRequest, case_id: int) -> HttpResponse:
    case = get_object_or_404(
        cases_visible_to(request.user).select_related(
            "owner", "assignee", "contact", "message__mailbox", "conversation__mailbox"
        ),
        pk=case_id,
    )
    people = readers_of(_mailbox_of(case))
    if request.method == "GET":
        initial = {"status": case.status, "assignee": case.assignee}
        form = CaseChangeForm(initial=initial, people=people)
        return _record_page(request, "mailroom/case_detail.html", case, form, "cases")
    form = CaseChangeForm(request.POST, people=people)
    if not form.is_valid():
        return _record_page(request, "mailroom/case_detail.html", case, form, "cases")
    assert isinstance(request.user, User)  # login_required
    changes = change_case(
        case,
        request.user,
        status=form.cleaned_data["status"],
        assignee=form.cleaned_data["assignee"],
    )
    messages.success(request, _changed(changes))
    return redirect("case-detail", case_id=case.pk)


def _changed(changes: list[Any]) -> str:
    if not changes:
        return "Nothing changed."
    return "Saved: " + "; ".join(f"{c.field} {c.old or '—'} → {c.new or '—'}" for c in changes)
