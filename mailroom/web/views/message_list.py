"""Screen: a mailbox's mail, as conversations or messages, newest first, a keyset page at a
time, with search, filters and per-person unread state; "Mark read" and "Mark unread" for the
rows a person ticks.

Only people who may read the mailbox get here; anyone else gets the 404 of a mailbox that
does not exist. The list never counts the whole mailbox (see mailroom.reading.listing).
"""

from __future__ import annotations

import logging
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import DatabaseError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_POST

from mailroom.access.policy import access_mailbox
from mailroom.models import Folder, Mailbox, Message
from mailroom.reading.listing import Cursor, Has, ListQuery, Page, Row, View, page
from mailroom.reading.search import MAX_LENGTH, SearchError, parse
from mailroom.reading.unread import mark_many_read, mark_many_unread

logger = logging.getLogger(__name__)

_ANY = ("", "Any")
_HAS = [_ANY, (Has.LEAD.value, "Has a Lead"), (Has.CASE.value, "Has a Case")]
_AUTOMATIC = [_ANY, ("1", "Automatic mail only"), ("0", "No automatic mail")]
_ANSWERED = [_ANY, ("1", "Answered"), ("0", "Not answered")]
_FILTERS = ("q", "folder", "has", "automatic", "answered", "unread")


class ListForm(forms.Form):
    """The list's GET parameters; a value that is not valid is left out, with a note."""

    view = forms.ChoiceField(choices=[(v.value, v.value) for v in View], required=False)
    q = forms.CharField(required=False, strip=True)
    folder = forms.ModelChoiceField(queryset=Folder.objects.none(), required=False)
    has = forms.ChoiceField(choices=_HAS, required=False)
    automatic = forms.ChoiceField(choices=_AUTOMATIC, required=False)
    answered = forms.ChoiceField(choices=_ANSWERED, required=False)
    unread = forms.BooleanField(required=False)
    before = forms.CharField(required=False)
    after = forms.CharField(required=False)

    def __init__(self, mailbox: Mailbox, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        folder = self.fields["folder"]
        assert isinstance(folder, forms.ModelChoiceField)
        folder.queryset = Folder.objects.filter(mailbox=mailbox).order_by("name")
        folder.empty_label = "All folders"
        folder.error_messages["invalid_choice"] = "That folder is not one of this mailbox's."

    def clean_before(self) -> Cursor | None:
        return _cursor(self.cleaned_data["before"])

    def clean_after(self) -> Cursor | None:
        return _cursor(self.cleaned_data["after"])


def _cursor(text: str) -> Cursor | None:
    if not text:
        return None
    cursor = Cursor.parse(text)
    if cursor is None:
        raise forms.ValidationError("That page link is not valid: the newest mail is shown.")
    return cursor


# What a list's URL may hold: its view, search, filters and page.
_LIST_PARAMETERS = ("view", *_FILTERS, "before", "after")


def list_query(params: QueryDict) -> str:
    """The query string of a mail list (known parameters only, in a fixed order), to come
    back to it from a message."""
    return urlencode([(name, params[name]) for name in _LIST_PARAMETERS if params.get(name)])


def _flag(value: str) -> bool | None:
    return None if value == "" else value == "1"


def _query(form: ListForm) -> tuple[ListQuery, list[str]]:
    """The query the form asks for, and what had to be left out, in words."""
    form.is_valid()
    data = {name: value for name, value in form.cleaned_data.items() if name not in form.errors}
    problems = [str(error) for errors in form.errors.values() for error in errors]
    terms = None
    text = data.get("q") or ""
    try:
        terms = parse(text)
    except SearchError as exc:
        problems.append(str(exc))
    else:
        if terms is None and text:
            problems.append("There is no word to search for in what you typed.")
    folder = data.get("folder")
    query = ListQuery(
        view=View(data.get("view") or View.CONVERSATIONS),
        terms=terms,
        folder_id=folder.pk if folder is not None else None,
        has=Has(data["has"]) if data.get("has") else None,
        automatic=_flag(data.get("automatic") or ""),
        answered=_flag(data.get("answered") or ""),
        unread=bool(data.get("unread")),
        before=data.get("before"),
        after=data.get("after"),
    )
    return query, problems


def _when(moment: datetime, now: datetime) -> str:
    """A short date, as mail lists show it: the time today, the day this year, else the date."""
    local = timezone.localtime(moment)
    if local.date() == now.date():
        return local.strftime("%H:%M")
    if local.year == now.year:
        return f"{local.day} {local.strftime('%b')}"
    return f"{local.day} {local.strftime('%b %Y')}"


def _row_html(
    row: Row,
    now: datetime,
    message_url: str,
    *,
    conversations: bool,
    show_folder: bool,
    back: str = "",
) -> SafeString:
    """One row of the list, built here rather than in the template: fifty rows through the
    template engine took most of a page's time. Every text is escaped (``escape``)."""
    subject = escape(row.subject or "(no subject)")
    sender = escape(row.from_name or row.from_email or "(no sender)")
    grouped = conversations and row.conversation_id is not None
    pick = (
        f'name="conversation" value="{row.conversation_id}"'
        if grouped
        else f'name="message" value="{row.pk}"'
    )
    count = ""
    if conversations and row.in_conversation > 1:
        count = (
            f' <span class="mail-count" title="{row.in_conversation} messages in this '
            f'conversation">{row.in_conversation}</span>'
        )
    badges = []
    if show_folder and row.folder_name is not None:
        badges.append(f'<span class="badge folder">{escape(row.folder_name)}</span>')
    if row.has_lead:
        badges.append('<span class="badge lead">Lead</span>')
    if row.has_case:
        number = f" #{row.case_number}" if row.case_number else ""
        badges.append(f'<span class="badge case">Case{number}</span>')
    if row.answered:
        badges.append('<span class="badge ok">answered</span>')
    if row.automated_reason:
        reason = escape(row.automated_reason)
        badges.append(f'<span class="badge" title="{reason}">automatic</span>')
    if row.is_malformed:
        badges.append('<span class="badge degraded">malformed</span>')
    local = timezone.localtime(row.arrival)
    unread = " unread" if row.unread else ""
    marker = '<span class="sr-only">Unread: </span>' if row.unread else ""
    conversation = f' data-conversation="{row.conversation_id or ""}"' if conversations else ""
    return mark_safe(  # noqa: S308 (every text above is escaped; the rest are numbers)
        f'<li class="mail-row{unread}" data-message="{row.pk}"{conversation}>'
        f'<input type="checkbox" {pick} id="pick-{row.pk}" aria-label="Select “{subject}”">'
        f'<a class="mail-link" href="{message_url}{row.pk}/{back}">'
        f'<span class="mail-from">{sender}{count}</span>'
        f'<span class="mail-subject">{marker}{subject}</span>'
        f'<span class="mail-preview">{escape(row.preview)}</span></a>'
        f'<span class="mail-badges">{"".join(badges)}</span>'
        f'<time class="mail-when" datetime="{local.isoformat()}" '
        f'title="{local:%Y-%m-%d %H:%M}">{_when(row.arrival, now)}</time></li>'
    )


def _select(name: str, choices: list[tuple[str, str]], chosen: str) -> SafeString:
    """A filter's select, built here: Django's widget templates cost more than the page."""
    options = "".join(
        f'<option value="{escape(value)}"{" selected" if value == chosen else ""}>'
        f"{escape(label)}</option>"
        for value, label in choices
    )
    return mark_safe(f'<select name="{name}" id="id_{name}">{options}</select>')  # noqa: S308


def _filters(mailbox: Mailbox, query: ListQuery) -> dict[str, object]:
    """The filter controls, showing what the list applies."""
    folders = Folder.objects.filter(mailbox=mailbox).order_by("name").values_list("pk", "name")
    folder_choices = [("", "All folders")] + [(str(pk), name) for pk, name in folders]

    def flag(value: bool | None) -> str:
        return "" if value is None else str(int(value))

    return {
        "folder": _select("folder", folder_choices, str(query.folder_id or "")),
        "has": _select("has", _HAS, query.has.value if query.has else ""),
        "automatic": _select("automatic", _AUTOMATIC, flag(query.automatic)),
        "answered": _select("answered", _ANSWERED, flag(query.answered)),
        "unread": query.unread,
    }


def _url(mailbox: Mailbox, params: dict[str, str]) -> str:
    kept = {name: value for name, value in params.items() if value}
    base = reverse("message-list", args=[mailbox.pk])
    return f"{base}?{urlencode(kept)}" if kept else base


@login_required
@require_GET
def message_list(request: HttpRequest, mailbox_id: int) -> HttpResponse:
    mailbox = access_mailbox(request.user, mailbox_id)
    form = ListForm(mailbox, request.GET)
    query, problems = _query(form)
    search_failed = False
    unsearchable = bool(request.GET.get("q", "").strip()) and query.terms is None
    try:
        # A search that cannot be run shows nothing, not all mail under the words typed.
        found = Page([], None, None) if unsearchable else page(mailbox, request.user, query)
    except DatabaseError:
        if query.terms is None:
            raise
        # Quoting makes every search valid; should the index still refuse one, say so.
        logger.exception("search in mailbox %s failed", mailbox.pk)
        search_failed = True
        found = Page([], None, None)
    now = timezone.localtime()
    message_url = reverse("message-detail", args=[0]).removesuffix("0/")
    conversations = query.view is View.CONVERSATIONS
    show_folder = query.folder_id is None
    # The message page leads back to this very list (its search, filters and page).
    listed = list_query(request.GET)
    back = escape("?" + urlencode({"from": listed})) if listed else ""
    rows_html = [
        _row_html(
            row, now, message_url, conversations=conversations, show_folder=show_folder, back=back
        )
        for row in found.rows
    ]
    view = query.view.value
    params = {name: request.GET.get(name, "") for name in _FILTERS}
    params["unread"] = "1" if query.unread else ""
    filtering = any(params[name] for name in _FILTERS if name != "q")
    context = {
        "mailbox": mailbox,
        "section": "mailboxes",
        "form": form,
        "filters": _filters(mailbox, query),
        "view": view,
        "q": request.GET.get("q", "")[: MAX_LENGTH * 2],
        "searching": bool(params["q"].strip()),
        "filtering": filtering,
        "problems": problems,
        "search_failed": search_failed,
        "rows": found.rows,
        "rows_html": rows_html,
        "conversations": query.view is View.CONVERSATIONS,
        "conversations_url": _url(mailbox, {**params, "view": ""}),
        "messages_url": _url(mailbox, {**params, "view": View.MESSAGES.value}),
        "clear_url": _url(mailbox, {"view": "" if view == View.CONVERSATIONS else view}),
        "older_url": _url(
            mailbox,
            {**params, "view": _view_param(query), "before": str(found.older)},
        )
        if found.older
        else None,
        "newer_url": _url(
            mailbox,
            {**params, "view": _view_param(query), "after": str(found.newer)},
        )
        if found.newer
        else None,
        "here": request.get_full_path(),
    }
    return render(request, "mailroom/message_list.html", context)


def _view_param(query: ListQuery) -> str:
    return "" if query.view is View.CONVERSATIONS else query.view.value


@login_required
@require_POST
def message_list_mark(request: HttpRequest, mailbox_id: int) -> HttpResponse:
    """Mark the ticked rows read or unread for the person (a conversation: all its messages)."""
    mailbox = access_mailbox(request.user, mailbox_id)
    message_ids = _ids(request.POST.getlist("message"))
    conversation_ids = _ids(request.POST.getlist("conversation"))
    chosen = Message.objects.filter(mailbox=mailbox).filter(
        Q(pk__in=message_ids) | Q(conversation_id__in=conversation_ids)
    )
    ids = list(chosen.values_list("pk", flat=True))
    action = request.POST.get("action")
    if not ids:
        messages.warning(request, "Tick the mail to mark first.")
    elif action == "read":
        mark_many_read(request.user, ids)
        messages.success(request, _marked(len(ids), "read"))
    elif action == "unread":
        mark_many_unread(request.user, ids)
        messages.success(request, _marked(len(ids), "unread"))
    else:
        messages.warning(request, "Choose “Mark read” or “Mark unread”.")
    target = request.POST.get("next", "")
    list_path = reverse("message-list", args=[mailbox.pk])
    if target.startswith(list_path) and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(list_path)


def _ids(values: list[str]) -> list[int]:
    return [int(v) for v in values if v.isascii() and v.isdigit() and len(v) <= 18][:500]


def _marked(count: int, state: str) -> str:
    return f"{count} message{'s' if count != 1 else ''} marked {state}."
