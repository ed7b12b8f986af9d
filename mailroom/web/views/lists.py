"""Screens for administrators: the Lead Source options and the Sales channels.

The seed's "System > Entities > Lead > Source": options are added, renamed, reordered, made
the default and deactivated; an option in use is only deactivated, never deleted. A Sales
channel is added, activated and deactivated; "Convert to Lead" needs an active one.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from mailroom.access.policy import is_admin
from mailroom.crm.lists import (
    InUse,
    add_lead_source,
    add_sales_channel,
    delete_lead_source,
    ensure_default_lead_sources,
    lead_source_users,
    move_lead_source,
    rename_lead_source,
    set_default_lead_source,
    set_lead_source_active,
    set_sales_channel_active,
)
from mailroom.models import LeadSource, Mailbox, SalesChannel
from mailroom.web.entity_forms import NameForm


def _require_admin(request: HttpRequest) -> None:
    # Like every page a person may not use, the lists' pages do not exist for them: 404.
    if not is_admin(request.user):
        raise Http404("only administrators manage these lists")


def _sources_page(request: HttpRequest, form: NameForm, status: int = 200) -> HttpResponse:
    sources = list(
        LeadSource.objects.annotate(lead_count=Count("lead")).order_by("position", "name")
    )
    named: dict[str, list[str]] = {}
    for mailbox in Mailbox.objects.only("label", "processor_settings"):
        source = (mailbox.processor_settings or {}).get("source")
        if source:
            named.setdefault(source, []).append(mailbox.label)
    for source in sources:
        source.mailbox_labels = sorted(named.get(source.name, []))  # type: ignore[attr-defined]
    context: dict[str, Any] = {"sources": sources, "form": form, "section": "lead-sources"}
    return render(request, "mailroom/lead_sources.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def lead_sources(request: HttpRequest) -> HttpResponse:
    _require_admin(request)
    if request.method == "GET":
        if ensure_default_lead_sources():
            messages.info(request, "The default options were created; change them as you like.")
        return _sources_page(request, NameForm(model=LeadSource))
    form = NameForm(request.POST, model=LeadSource)
    if not form.is_valid():
        return _sources_page(request, form, status=400)
    source = add_lead_source(form.cleaned_data["name"])
    messages.success(request, f"Lead source “{source.name}” added.")
    return redirect("lead-sources")


@login_required
@require_POST
def lead_source_change(request: HttpRequest, source_id: int) -> HttpResponse:
    _require_admin(request)
    source = get_object_or_404(LeadSource, pk=source_id)
    match request.POST.get("action"):
        case "rename":
            form = NameForm(request.POST, model=LeadSource, instance=source)
            if not form.is_valid():
                messages.error(
                    request, f"“{source.name}” was not renamed: {form.errors['name'][0]}"
                )
                return redirect("lead-sources")
            old = source.name
            rename_lead_source(source, form.cleaned_data["name"])
            messages.success(request, f"“{old}” renamed to “{source.name}”.")
        case "up" | "down" as direction:
            move_lead_source(source, -1 if direction == "up" else 1)
        case "default":
            if not source.active:
                messages.error(request, f"“{source.name}” is inactive: reactivate it first.")
                return redirect("lead-sources")
            set_default_lead_source(source)
            messages.success(request, f"“{source.name}” is now the default lead source.")
        case "deactivate":
            set_lead_source_active(source, False)
            messages.success(
                request, f"“{source.name}” deactivated: it is no longer offered for new choices."
            )
        case "reactivate":
            set_lead_source_active(source, True)
            messages.success(request, f"“{source.name}” is offered again.")
        case "delete":
            try:
                delete_lead_source(source)
            except InUse:
                leads, mailboxes = lead_source_users(source)
                messages.error(
                    request,
                    f"“{source.name}” is in use ({_uses(leads, mailboxes)}): "
                    "it cannot be deleted, only deactivated.",
                )
            else:
                messages.success(request, f"Lead source “{source.name}” deleted.")
        case _:
            return HttpResponse("unknown action", status=400)
    return redirect("lead-sources")


def _uses(leads: int, mailboxes: list[str]) -> str:
    parts = []
    if leads:
        parts.append(f"{leads} lead{'s' if leads != 1 else ''}")
    if mailboxes:
        parts.append("mailbox " + ", ".join(f"“{label}”" for label in mailboxes))
    return " and ".join(parts)


def _channels_page(request: HttpRequest, form: NameForm, status: int = 200) -> HttpResponse:
    channels = SalesChannel.objects.annotate(lead_count=Count("lead")).order_by("name")
    context = {"channels": channels, "form": form, "section": "sales-channels"}
    return render(request, "mailroom/sales_channels.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def sales_channels(request: HttpRequest) -> HttpResponse:
    _require_admin(request)
    if request.method == "GET":
        return _channels_page(request, NameForm(model=SalesChannel))
    form = NameForm(request.POST, model=SalesChannel)
    if not form.is_valid():
        return _channels_page(request, form, status=400)
    channel = add_sales_channel(form.cleaned_data["name"])
    messages.success(
        request, f"Sales channel “{channel.name}” added and active: “Convert to Lead” is offered."
    )
    return redirect("sales-channels")


@login_required
@require_POST
def sales_channel_change(request: HttpRequest, channel_id: int) -> HttpResponse:
    _require_admin(request)
    channel = get_object_or_404(SalesChannel, pk=channel_id)
    match request.POST.get("action"):
        case "activate":
            set_sales_channel_active(channel, True)
            messages.success(request, f"Sales channel “{channel.name}” activated.")
        case "deactivate":
            set_sales_channel_active(channel, False)
            messages.success(request, f"Sales channel “{channel.name}” deactivated.")
        case _:
            return HttpResponse("unknown action", status=400)
    return redirect("sales-channels")
