"""Endpoints: what the message page loads besides itself, each for those who may read the
message and nobody else (404, as for an id never used).

- the HTML body, cleaned when shown, as the page of a sandboxed frame under a strict
  Content-Security-Policy (remote content only when the reader asked, with ``?remote=1``);
- the message's inline images (``cid:``), served inline only when their bytes are a PNG, JPEG,
  GIF or WebP image, never an SVG or anything a browser would run;
- the raw ``.eml``, as a download (threats.md S01-S03, S14).
"""

from __future__ import annotations

import logging

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_safe

from mailroom.access.policy import access_message
from mailroom.mime.parts import find_part, raster_image_type
from mailroom.models import Message
from mailroom.rendering.mail_view import (
    MailHtml,
    clean_mail_html,
    content_security_policy,
    mail_document,
)
from mailroom.web.downloads import attachment_disposition
from mailroom.web.views.attachments import DOWNLOAD_HEADERS

logger = logging.getLogger(__name__)


def remote_allowed(request: HttpRequest) -> bool:
    """Whether the reader asked to see this message's remote content (for this view only)."""
    return request.GET.get("remote") == "1"


def message_html(message: Message, *, allow_remote: bool) -> MailHtml:
    """The message's HTML body as it may be shown, its ``cid:`` images pointing here."""
    inline_urls = {
        a.content_id: reverse("message-inline", args=[message.pk, a.pk])
        for a in message.attachments.all()
        if a.content_id
    }
    return clean_mail_html(message.html_body, inline_urls=inline_urls, allow_remote=allow_remote)


def _problem(status: int, text: str) -> HttpResponse:
    response = HttpResponse(text + "\n", content_type="text/plain; charset=utf-8", status=status)
    for name, value in DOWNLOAD_HEADERS.items():
        response[name] = value
    return response


@login_required
@require_safe
@xframe_options_sameorigin
def message_body(request: HttpRequest, message_id: int) -> HttpResponse:
    """The page of the message's frame: its cleaned HTML, nothing that runs or reaches out."""
    message = access_message(request.user, message_id)
    allow_remote = remote_allowed(request)
    document = mail_document(message_html(message, allow_remote=allow_remote))
    response = HttpResponse(document, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = content_security_policy(allow_remote=allow_remote)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    # Remote images, once allowed, must not learn which message of which server they are in.
    response["Referrer-Policy"] = "no-referrer"
    return response


def _raw(message: Message) -> bytes | None:
    try:
        return message.read_raw()
    # The row outlived its bytes (a file removed from storage, or never written).
    except (OSError, ValueError) as exc:
        logger.warning("message %s: raw message not readable: %s", message.pk, exc)
        return None


@login_required
@require_safe
def message_inline(request: HttpRequest, message_id: int, attachment_id: int) -> HttpResponse:
    """One inline image of the message, to be shown in its HTML body."""
    message = access_message(request.user, message_id)
    attachment = message.attachments.filter(pk=attachment_id).first()
    if attachment is None:
        raise Http404("no such attachment")
    raw = _raw(message)
    if raw is None:
        return _problem(410, "The stored copy of this message is gone, so its image is too.")
    part = find_part(raw, attachment.part)
    if part is None:
        return _problem(404, f"Part {attachment.part} is not in the stored message.")
    data, _problem_text = part.payload()
    content_type = raster_image_type(data)
    if content_type is None:
        # An SVG, an HTML page or anything else: downloaded from the attachment list, never
        # shown in the page.
        return _problem(404, "This attachment is not an image that can be shown inline.")
    response = HttpResponse(data, content_type=content_type)
    for name, value in DOWNLOAD_HEADERS.items():
        response[name] = value
    response["Content-Disposition"] = "inline"
    return response


@login_required
@require_safe
def message_raw(request: HttpRequest, message_id: int) -> HttpResponse:
    """The message exactly as the server sent it, as an ``.eml`` download."""
    message = access_message(request.user, message_id)
    raw = _raw(message)
    if raw is None:
        return _problem(410, "The stored copy of this message is gone.")
    response = HttpResponse(raw, content_type="message/rfc822")
    response["Content-Disposition"] = attachment_disposition(
        f"{message.subject.strip()[:80] or 'message'}.eml"
    )
    for name, value in DOWNLOAD_HEADERS.items():
        response[name] = value
    return response
