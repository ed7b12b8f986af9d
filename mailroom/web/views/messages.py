"""Screen: one stored message, as its HTML (in a sandboxed frame) or its text, with its
attachments, its conversation, its Lead or Case, its processing record and answers, and
"Process again"."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import unquote, urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Case, F, Q, Value, When
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_POST

from mailroom.access.policy import access_mailbox, access_message, is_admin
from mailroom.models import Attachment, Lead, Message, SentCopy
from mailroom.models import Case as CaseRecord
from mailroom.pipeline.engine import MAX_ATTEMPTS, reset_processing
from mailroom.reading.unread import mark_read
from mailroom.rendering.mail_view import blocked_remote, linked_text
from mailroom.replies.listing import conversation_replies
from mailroom.tasks.jobs import enqueue_processing
from mailroom.web.health import when
from mailroom.web.views.message_body import remote_allowed
from mailroom.web.views.message_list import list_query

CONVERSATION_SHOWN = 100
R = TypeVar("R", Lead, CaseRecord)


def _view(request: HttpRequest, message: Message) -> str:
    """Return "html" or "text": what the reader chose of what the message has, else HTML if it
    has it."""
    if not message.html_body or (request.GET.get("view") == "text" and message.text_body):
        return "text"
    return "html"


def _linked(text: str) -> SafeString:
    # linked_text escapes every character of the sender's text; only its own links are markup.
    return mark_safe(linked_text(text))  # noqa: S308


# A ``cid:`` reference in the HTML body: up to a quote, space or bracket that ends it.
_CID = re.compile(r"""cid:([^"'\s)>]+)""", re.IGNORECASE)


@dataclass(frozen=True)
class InlineImage:
    """An image of the HTML body (a part with a Content-ID that the body refers to)."""

    attachment: Attachment
    name: str


def _split_parts(message: Message) -> tuple[list[Attachment], list[InlineImage]]:
    """The message's attachments, and apart from them the images its HTML body shows.

    A part is the body's when it is an image with a Content-ID the HTML refers to as
    ``cid:``; a part with a Content-ID nothing refers to (some mailers give every part one)
    stays an attachment, else it would be shown nowhere.
    """
    cited = {unquote(m).strip("<>").lower() for m in _CID.findall(message.html_body or "")}
    attachments: list[Attachment] = []
    inline: list[InlineImage] = []
    for part in message.attachments.all():
        if (
            part.content_id
            and part.content_id.strip("<>").lower() in cited
            and part.content_type.lower().startswith("image/")
        ):
            inline.append(InlineImage(part, part.filename or f"inline image {len(inline) + 1}"))
        else:
            attachments.append(part)
    return attachments, inline


def _record(model: type[R], message: Message) -> R | None:
    """The Lead or Case (``model``) made from the message, else its conversation's: one query."""
    mine = Q(message=message)
    if message.conversation_id is not None:
        mine |= Q(conversation_id=message.conversation_id)
    made_here = Case(When(message=message, then=Value(0)), default=Value(1))
    return model.objects.filter(mine).order_by(made_here, "pk").first()


def _back(request: HttpRequest, message: Message) -> tuple[str, str]:
    """Where "←" leads: the mail list the message was opened from, with its search, filters
    and page (``?from=``, only the list's own parameters kept), else the list's first page;
    and the ``from`` value to carry through the page's own links."""
    listed = list_query(QueryDict(request.GET.get("from", "")))
    path = reverse("message-list", args=[message.mailbox_id])
    return (f"{path}?{listed}" if listed else path), listed


@login_required
def message_detail(request: HttpRequest, message_id: int) -> HttpResponse:
    message = access_message(request.user, message_id)
    processing = getattr(message, "processing", None)
    respond = [s for s in (processing.steps if processing else []) if s.get("step") == "respond"]
    view = _view(request, message)
    allow_remote = remote_allowed(request)
    # Whether the frame will hold remote content back, to offer it (the frame's own request
    # cleans the HTML as it is shown).
    blocked = blocked_remote(message.html_body) if view == "html" and not allow_remote else 0
    conversation = (
        Message.objects.filter(conversation_id=message.conversation_id)
        # What the list shows, not the bodies of up to a hundred messages.
        .only("id", "subject", "from_name", "from_email", "date")
        .order_by(F("date").asc(nulls_last=True), "id")
        if message.conversation_id is not None
        else Message.objects.none()
    )
    conversation_size = conversation.count()
    text = _linked(message.text_body) if view == "text" else ""
    lead, case = _record(Lead, message), _record(CaseRecord, message)
    attachments, inline_images = _split_parts(message)
    # Opening the message reads it, for this person only.
    mark_read(request.user, message.pk)
    back_url, listed = _back(request, message)
    return render(
        request,
        "mailroom/message_detail.html",
        {
            "message": message,
            "processing": processing,
            "next_attempt": when(processing.retry_at, default="") if processing else "",
            "max_attempts": MAX_ATTEMPTS,
            "attachments": attachments,
            "inline_images": inline_images,
            "view": view,
            "text": text,
            "allow_remote": allow_remote,
            "blocked": blocked,
            # A conversation of automatic mail can grow long: its first messages are listed.
            "conversation": conversation[:CONVERSATION_SHOWN],
            "conversation_size": conversation_size,
            "lead": lead,
            "case": case,
            "can_manage": is_admin(request.user),
            # This message's autoresponse (written replies have a copy to Sent to make).
            "answers": message.replies.filter(sent_copy=SentCopy.NONE)
            .select_related("rule")
            .order_by("id"),
            "replies": conversation_replies(message),
            # What the respond step said: which rule answered, or why none did.
            "answer_note": respond[-1].get("detail", "") if respond else "",
            "back_url": back_url,
            "from_list": urlencode({"from": listed}) if listed else "",
        },
    )


@login_required
@require_POST
def message_reprocess(request: HttpRequest, message_id: int) -> HttpResponse:
    """ "Process again": run the pipeline over the message once more, from a clean slate of
    attempts (those who may change the mailbox; anyone else finds no such page)."""
    message = access_message(request.user, message_id)
    access_mailbox(request.user, message.mailbox_id, manage=True)
    reset_processing(message)
    enqueue_processing([message.pk])
    messages.success(request, "Processing requested: the message is processed again shortly.")
    return redirect("message-detail", message_id=message.pk)
