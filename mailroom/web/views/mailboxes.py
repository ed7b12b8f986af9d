"""Screens: the mailbox list, a mailbox's page, and the mailbox form with "Check connection"."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.views.decorators.http import require_http_methods

from mailroom.access.policy import access_mailbox, is_admin, mailboxes_visible_to
from mailroom.credentials import CredentialError, seal_secret, unseal_secret
from mailroom.mailboxes.actions import save_mailbox, set_access, set_folders
from mailroom.mailboxes.check import check_imap, check_smtp
from mailroom.mailboxes.servers import imap_settings, smtp_settings
from mailroom.models import Mailbox, MailboxConnection
from mailroom.pipeline.processors.registry import processor_label
from mailroom.transport.errors import TransportError
from mailroom.web.forms import MailboxForm

CONNECTION_FIELDS = {
    "imap_host",
    "imap_port",
    "imap_encryption",
    "smtp_enabled",
    "smtp_host",
    "smtp_port",
    "smtp_encryption",
    "username",
    "password",
}
SHARED_FIELDS = {"username": "username", "password": "password"}


# The settings a stored password belongs to: change one, and the password must be typed again,
# so that the stored secret is never sent to a server it was not entered for.
SERVER_FIELDS = (
    "imap_host",
    "imap_port",
    "imap_encryption",
    "smtp_host",
    "smtp_port",
    "smtp_encryption",
    "username",
)
RETYPE = (
    "Enter the password again: the server settings changed, and the stored password is only "
    "sent to the server it was entered for."
)


def _folder_name_ok(name: str) -> bool:
    """Whether a folder name posted back by the page could have come from the server's LIST."""
    return 0 < len(name) <= 500 and not any(ch in name for ch in "\r\n\0")


def _server_changed(form: MailboxForm, connection: MailboxConnection) -> bool:
    return any(form.cleaned_data.get(name) != getattr(connection, name) for name in SERVER_FIELDS)


def _field(protocol: str, transport_field: str | None) -> str | None:
    """The form field a transport error of ``protocol`` belongs to (None: the whole form)."""
    if transport_field in SHARED_FIELDS:
        return SHARED_FIELDS[transport_field]
    if transport_field in {"host", "port", "encryption"}:
        return f"{protocol}_{transport_field}"
    return None


@login_required
def mailbox_list(request: HttpRequest) -> HttpResponse:
    mailboxes = (
        mailboxes_visible_to(request.user)
        .select_related("connection")
        .annotate(message_count=Count("messages", distinct=True))
        .order_by("label")
    )
    rows = list(mailboxes)
    for mailbox in rows:
        mailbox.processor_label = processor_label(mailbox.processor_kind)  # type: ignore[attr-defined]
    return render(
        request,
        "mailroom/mailbox_list.html",
        {"mailboxes": rows, "can_manage": is_admin(request.user), "section": "mailboxes"},
    )


@login_required
def mailbox_detail(request: HttpRequest, mailbox_id: int) -> HttpResponse:
    mailbox = access_mailbox(request.user, mailbox_id)
    recent = mailbox.messages.select_related("processing", "folder").order_by("-id")[:50]
    return render(
        request,
        "mailroom/mailbox_detail.html",
        {
            "mailbox": mailbox,
            "synced_folders": mailbox.folders.filter(selected=True),
            "section": "mailboxes",
            "recent": recent,
            "processor_label": processor_label(mailbox.processor_kind),
            "can_manage": is_admin(request.user),
        },
    )


def _check_connection(form: MailboxForm, mailbox: Mailbox | None, password: str) -> list[str]:
    """Try the IMAP settings of the form; put errors at their field, return the folders."""
    for name in list(form.errors):
        if name not in CONNECTION_FIELDS:
            del form.errors[name]
    if form.errors:
        return []
    data = form.cleaned_data
    connection = MailboxConnection(
        imap_host=data["imap_host"],
        imap_port=data["imap_port"],
        imap_encryption=data["imap_encryption"],
        smtp_host=data["smtp_host"],
        smtp_port=data["smtp_port"],
        smtp_encryption=data["smtp_encryption"],
        username=data["username"],
    )
    if not password and mailbox is not None:
        if _server_changed(form, mailbox.connection):
            form.add_error("password", RETYPE)
            return []
        try:
            password = mailbox.connection.password
        except CredentialError as exc:
            form.add_error("password", str(exc).capitalize() + ".")
            return []
    try:
        folders = check_imap(imap_settings(connection, password=password))
    except TransportError as exc:
        form.add_error(_field("imap", exc.field), str(exc).capitalize() + ".")
        return []
    if data["smtp_enabled"] and data["smtp_host"]:
        try:
            check_smtp(smtp_settings(connection, password=password))
        except TransportError as exc:
            form.add_error(_field("smtp", exc.field), f"SMTP: {exc}.")
    return [f.name for f in folders]


@login_required
@require_http_methods(["GET", "POST"])
def mailbox_form(request: HttpRequest, mailbox_id: int | None = None) -> HttpResponse:
    mailbox = access_mailbox(request.user, mailbox_id, manage=True) if mailbox_id else None
    if mailbox is None and not is_admin(request.user):
        raise Http404("no such page")
    known = list(mailbox.folders.values_list("name", flat=True)) if mailbox else []
    if request.method == "GET":
        initial = MailboxForm.initial_for(mailbox) if mailbox else {}
        form = MailboxForm(initial=initial, mailbox=mailbox, folder_names=known)
        return render(
            request,
            "mailroom/mailbox_form.html",
            {"form": form, "mailbox": mailbox, "section": "mailboxes"},
        )

    posted = [name for name in request.POST.getlist("known_folder") if _folder_name_ok(name)]
    known = list(dict.fromkeys(known + posted))
    form = MailboxForm(request.POST, mailbox=mailbox, folder_names=known)
    valid = form.is_valid()
    # A password typed now wins; else the one a successful check sealed into the page.
    sealed = request.POST.get("sealed_password", "")
    typed = form.cleaned_data.get("password", "") if "password" not in form.errors else ""
    password = typed or unseal_secret(sealed)
    context = {"form": form, "mailbox": mailbox, "known_folders": known, "section": "mailboxes"}
    if "check" in request.POST:
        found = _check_connection(form, mailbox, password)
        if found:
            known = list(dict.fromkeys(known + found))
            form.offer_folders(known)
            context["known_folders"] = known
            if password:
                context["sealed_password"] = seal_secret(password)
            smtp_failed = any(f.startswith("smtp_") for f in form.errors) or (
                "password" in form.errors
            )
            folders = f"{len(found)} folder{pluralize(len(found))} found"
            if smtp_failed:
                messages.warning(request, f"IMAP works ({folders}), but SMTP failed: see below.")
            else:
                messages.success(
                    request,
                    f"Connection works: {folders}. Tick the folders to synchronize, then save.",
                )
        return render(request, "mailroom/mailbox_form.html", context)
    if valid and mailbox is None and form.cleaned_data["imap_enabled"] and not password:
        form.add_error("password", "Enter the password of the mailbox's account.")
        valid = False
    if valid and mailbox is not None and not password and _server_changed(form, mailbox.connection):
        form.add_error("password", RETYPE)
        valid = False
    if not valid:
        context["sealed_password"] = sealed if unseal_secret(sealed) else ""
        return render(request, "mailroom/mailbox_form.html", context)
    saved = save_mailbox(form.mailbox_input(), password=password or None, mailbox=mailbox)
    set_folders(saved, known=known, selected=form.cleaned_data["folders"])
    set_access(
        saved,
        user_ids=[u.pk for u in form.cleaned_data["users"]],
        group_ids=[g.pk for g in form.cleaned_data["roles"]],
    )
    messages.success(request, f"Mailbox “{saved.label}” saved.")
    return redirect("mailbox-detail", mailbox_id=saved.pk)
