"""Screens: the mailbox list and a mailbox's page (health, import progress, alerts, latest mail),
with the small endpoints the page uses: its progress as JSON, "Sync now" and "Dismiss"."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from mailroom.access.policy import access_mailbox, is_admin, mailboxes_visible_to
from mailroom.crm.lists import sales_channel_active
from mailroom.mailboxes.actions import dismiss_alert, request_sync
from mailroom.models import Alert, Folder, Mailbox
from mailroom.pipeline.processors.registry import processor_label
from mailroom.rules.describe import rule_rows
from mailroom.web.health import history_summary, mailbox_health, when, without_server

# How many of the newest messages the mailbox page shows.
LATEST = 10

# Selected folders in the order mail clients show them: INBOX first, then alphabetically.
_SELECTED = Prefetch("folders", queryset=Folder.objects.filter(selected=True), to_attr="synced")


def _ordered(folders: list[Folder]) -> list[Folder]:
    return sorted(folders, key=lambda f: (f.name.upper() != "INBOX", f.name.casefold()))


@login_required
def mailbox_list(request: HttpRequest) -> HttpResponse:
    mailboxes = (
        mailboxes_visible_to(request.user)
        .select_related("connection")
        .prefetch_related(_SELECTED)
        .annotate(
            message_count=Count("messages", distinct=True),
            open_alerts=Count("alerts", filter=Q(alerts__resolved_at__isnull=True), distinct=True),
        )
        .order_by("label")
    )
    rows = list(mailboxes)
    for mailbox in rows:
        mailbox.processor_label = processor_label(mailbox.processor_kind)  # type: ignore[attr-defined]
        mailbox.health = mailbox_health(  # type: ignore[attr-defined]
            mailbox, _ordered(mailbox.synced), server_settings=is_admin(request.user)
        )
    return render(
        request,
        "mailroom/mailbox_list.html",
        {"mailboxes": rows, "can_manage": is_admin(request.user), "section": "mailboxes"},
    )


def _alerts(mailbox: Mailbox, *, server_settings: bool) -> list[Alert]:
    """The mailbox's open alerts; for people who do not manage it, without the server's names
    (an alert quotes the failure, which may name the host)."""
    alerts = list(mailbox.alerts.filter(resolved_at__isnull=True).order_by("-created_at"))
    if not server_settings:
        for alert in alerts:
            alert.text = without_server(alert.text, mailbox)
    return alerts


@login_required
def mailbox_detail(request: HttpRequest, mailbox_id: int) -> HttpResponse:
    mailbox = access_mailbox(request.user, mailbox_id)
    # A glance at the newest mail; the message list (message-list) reaches all of it.
    recent = mailbox.messages.select_related("processing", "folder").order_by("-id")[:LATEST]
    health = mailbox_health(
        mailbox,
        _ordered(list(mailbox.folders.filter(selected=True))),
        server_settings=is_admin(request.user),
    )
    return render(
        request,
        "mailroom/mailbox_detail.html",
        {
            "mailbox": mailbox,
            "health": health,
            "last_synced": when(mailbox.last_synced_at),
            "account_started": when(mailbox.account_started_at, default="—"),
            "history_summary": history_summary(mailbox),
            "alerts": _alerts(mailbox, server_settings=is_admin(request.user)),
            "section": "mailboxes",
            "recent": recent,
            "processor_label": processor_label(mailbox.processor_kind),
            "lead_paused": mailbox.processor_kind == "lead" and not sales_channel_active(),
            "can_manage": is_admin(request.user),
            "rules": rule_rows(mailbox),
        },
    )


@login_required
@require_GET
def mailbox_progress(request: HttpRequest, mailbox_id: int) -> JsonResponse:
    """The mailbox's status and import progress, polled by its page every few seconds."""
    mailbox = access_mailbox(request.user, mailbox_id)
    health = mailbox_health(
        mailbox,
        _ordered(list(mailbox.folders.filter(selected=True))),
        server_settings=is_admin(request.user),
    )
    response = JsonResponse(health.as_json())
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def mailbox_sync(request: HttpRequest, mailbox_id: int) -> HttpResponse:
    """ "Sync now": fetch the selected folders at once, even while a retry is pending."""
    mailbox = access_mailbox(request.user, mailbox_id)
    health = mailbox_health(mailbox, [])
    # Who can do something about it: those who manage the mailbox, in its settings.
    who = "enter" if is_admin(request.user) else "an administrator enters"
    if not health.imap_enabled:
        messages.warning(request, "IMAP is disabled for this mailbox: there is nothing to sync.")
    elif health.auth_stopped:
        messages.warning(
            request,
            f"Not synced: the server refused the login. {who.capitalize()} the user name or "
            "password again in the mailbox settings; the next sync uses them.",
        )
    elif request_sync(mailbox):
        messages.success(request, "Sync requested.")
    else:
        chooses = "choose them" if is_admin(request.user) else "an administrator chooses them"
        messages.warning(
            request, f"No folders are selected for sync: {chooses} in the mailbox settings."
        )
    return redirect("mailbox-detail", mailbox_id=mailbox.pk)


@login_required
@require_POST
def alert_dismiss(request: HttpRequest, mailbox_id: int, alert_id: int) -> HttpResponse:
    """Resolve one open alert of the mailbox (administrators)."""
    mailbox = access_mailbox(request.user, mailbox_id, manage=True)
    alert = mailbox.alerts.filter(pk=alert_id).first()
    if alert is None:
        raise Http404("no such alert")
    if dismiss_alert(alert):
        messages.success(request, "Alert dismissed.")
    return redirect("mailbox-detail", mailbox_id=mailbox.pk)
