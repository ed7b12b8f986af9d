"""Screen: the mailbox form, with "Check connection / Retrieve folders".

A stored password is only ever sent to the server it was entered for, and a change of host,
port, login or account type (a different account) is saved only once it is confirmed.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.views.decorators.http import require_http_methods

from mailroom.access.policy import access_mailbox, is_admin
from mailroom.credentials import CredentialError, seal_secret, unseal_secret
from mailroom.mailboxes.actions import (
    SERVER_FIELDS,
    changed_server_settings,
    is_new_account,
    request_sync,
    save_mailbox,
    set_access,
    set_folders,
)
from mailroom.mailboxes.check import check_imap, check_smtp
from mailroom.mailboxes.check_log import TooMany, begin_check, end_check
from mailroom.mailboxes.servers import imap_settings, smtp_settings
from mailroom.models import Mailbox, MailboxConnection
from mailroom.people.signin import client_address
from mailroom.rules.placeholders import mailbox_warnings
from mailroom.transport.errors import TransportError
from mailroom.web.forms import (
    ACCOUNT_FIELDS,
    NEW_ACCOUNT_WARNING,
    MailboxForm,
)
from mailroom.web.health import history_summary, when

CONNECTION_FIELDS = {*SERVER_FIELDS, "smtp_enabled", "password"}
SHARED_FIELDS = {"username": "username", "password": "password"}

RETYPE = (
    "Enter the password again: the server settings changed, and the stored password is only "
    "sent to the server it was entered for."
)
AT_THE_FIELD = "Changing this connects a different account: confirm at the top of the form."


def _folder_name_ok(name: str) -> bool:
    """Whether a folder name posted back by the page could have come from the server's LIST."""
    return 0 < len(name) <= 500 and not any(ch in name for ch in "\r\n\0")


def _field(protocol: str, transport_field: str | None) -> str | None:
    """The form field a transport error of ``protocol`` belongs to (None: the whole form)."""
    if transport_field in SHARED_FIELDS:
        return SHARED_FIELDS[transport_field]
    if transport_field in {"host", "port", "encryption"}:
        return f"{protocol}_{transport_field}"
    return None


def _new_account(form: MailboxForm, mailbox: Mailbox | None) -> bool:
    """Whether the account fields, as far as they are valid, connect a different account."""
    if mailbox is None or any(name in form.errors for name in ACCOUNT_FIELDS):
        return False
    return is_new_account(mailbox, form.account_input())


def _check_connection(
    request: HttpRequest, form: MailboxForm, mailbox: Mailbox | None, password: str
) -> list[str] | TooMany:
    """Try the IMAP settings of the form; put errors at their field, return the folders.

    Every check that connects is in the audit log, and one over the person's rate limit
    connects to nothing (:mod:`mailroom.mailboxes.check_log`)."""
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
        if changed_server_settings(mailbox, form.account_input()):
            form.add_error("password", RETYPE)
            return []
        try:
            password = mailbox.connection.password
        except CredentialError as exc:
            form.add_error("password", str(exc).capitalize() + ".")
            return []
    if not data["smtp_enabled"]:
        connection.smtp_host = ""
    assert request.user.pk is not None  # the view is for people logged in
    entry = begin_check(request.user.pk, client_address(request), connection, mailbox)
    if isinstance(entry, TooMany):
        return entry
    try:
        folders = check_imap(imap_settings(connection, password=password))
    except TransportError as exc:
        error = str(exc).capitalize() + "."
        form.add_error(_field("imap", exc.field), error)
        end_check(entry, [f"IMAP: {error}"])
        return []
    errors = []
    if connection.smtp_host:
        try:
            check_smtp(smtp_settings(connection, password=password))
        except TransportError as exc:
            errors.append(f"SMTP: {exc}.")
            form.add_error(_field("smtp", exc.field), errors[-1])
    end_check(entry, errors)
    return [f.name for f in folders]


def _render(request: HttpRequest, context: dict[str, Any]) -> HttpResponse:
    mailbox: Mailbox | None = context["mailbox"]
    new_account = bool(context.get("new_account"))
    context.setdefault("section", "mailboxes")
    context["new_account_warning"] = NEW_ACCOUNT_WARNING
    context["show_history"] = mailbox is None or new_account
    if mailbox is not None:
        context["history_summary"] = history_summary(mailbox)
        context["account_started"] = when(mailbox.account_started_at, default="")
    return render(request, "mailroom/mailbox_form.html", context)


def _saved_message(label: str, new_account: bool, folders: int) -> str:
    text = f"Mailbox “{label}” saved."
    if new_account:
        text += (
            " A new mailbox account was registered; the mail stored before stays, marked as "
            "from the earlier account."
        )
    if folders:
        text += " Sync requested."
    return text


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
        return _render(request, {"form": form, "mailbox": mailbox})

    posted = [name for name in request.POST.getlist("known_folder") if _folder_name_ok(name)]
    known = list(dict.fromkeys(known + posted))
    form = MailboxForm(request.POST, mailbox=mailbox, folder_names=known)
    valid = form.is_valid()
    # A password typed now wins; else the one a successful check sealed into the page.
    sealed = request.POST.get("sealed_password", "")
    typed = form.cleaned_data.get("password", "") if "password" not in form.errors else ""
    password = typed or unseal_secret(sealed)
    context: dict[str, Any] = {"form": form, "mailbox": mailbox, "known_folders": known}
    if "check" in request.POST:
        found = _check_connection(request, form, mailbox, password)
        context["new_account"] = _new_account(form, mailbox)
        if isinstance(found, TooMany):
            messages.error(request, str(found))
            response = _render(request, context)
            response.status_code = 429
            response["Retry-After"] = str(found.seconds)
            return response
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
        return _render(request, context)
    if valid and mailbox is None and form.cleaned_data["imap_enabled"] and not password:
        form.add_error("password", "Enter the password of the mailbox's account.")
        valid = False
    if (
        valid
        and mailbox is not None
        and not password
        and changed_server_settings(mailbox, form.account_input())
    ):
        form.add_error("password", RETYPE)
        valid = False
    new_account = context["new_account"] = _new_account(form, mailbox)
    if new_account and not form.cleaned_data.get("confirm_new_account"):
        # Nothing is saved until the administrator confirms: say so at the top (with the
        # confirmation) and at each field that makes it a different account.
        assert mailbox is not None
        current = MailboxForm.initial_for(mailbox)
        for name in ACCOUNT_FIELDS:
            if form.cleaned_data.get(name) != current[name]:
                form.add_error(name, AT_THE_FIELD)
        context["confirm_needed"] = True
        # The warning box says it all when nothing else is wrong.
        context["only_confirm"] = all(
            all(message == AT_THE_FIELD for message in errors) for errors in form.errors.values()
        )
        valid = False
    if not valid:
        context["sealed_password"] = sealed if unseal_secret(sealed) else ""
        if context.get("confirm_needed") and typed:
            # Only the confirmation is missing: the password just typed travels sealed to the
            # next Save, as after a connection check, and is not asked for a third time.
            context["sealed_password"] = seal_secret(typed)
            context["kept_note"] = "The password you typed is kept; leave the field empty."
        return _render(request, context)
    saved = save_mailbox(form.mailbox_input(), password=password or None, mailbox=mailbox)
    set_folders(saved, known=known, selected=form.cleaned_data["folders"])
    set_access(
        saved,
        user_ids=[u.pk for u in form.cleaned_data["users"]],
        group_ids=[g.pk for g in form.cleaned_data["roles"]],
    )
    messages.success(request, _saved_message(saved.label, new_account, request_sync(saved)))
    # A processor changed under existing rules: answers may now leave a placeholder empty.
    for text in mailbox_warnings(saved):
        messages.warning(request, text)
    return redirect("mailbox-detail", mailbox_id=saved.pk)
