"""Endpoint: download one attachment of a stored message, as bytes the browser only saves.

The attachment is found through its message, so whoever may read the message may download
its attachments and nobody else; for anyone else the attachment does not exist (404, the
same answer as for an id that was never used). Nothing the sender wrote is trusted: the
response always says ``application/octet-stream``, forbids sniffing, sandboxes anything a
browser might still render, and names the file through :func:`attachment_disposition`.

A stored message whose bytes or part cannot be read any more gets a short plain-text answer
naming the cause (410 when the bytes are gone, 404 when the part is not in them), never a
server error.
"""

from __future__ import annotations

import logging

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from mailroom.access.policy import messages_visible_to
from mailroom.mime.parts import find_part
from mailroom.models import Attachment
from mailroom.web.downloads import attachment_disposition

logger = logging.getLogger(__name__)

DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'",
    "Cache-Control": "private, no-store",
}
"""Headers of every download, whatever the file holds (threats.md S03)."""


def _problem(status: int, text: str) -> HttpResponse:
    response = HttpResponse(text + "\n", content_type="text/plain; charset=utf-8", status=status)
    for name, value in DOWNLOAD_HEADERS.items():
        response[name] = value
    return response


@login_required
@require_safe
def attachment_download(request: HttpRequest, attachment_id: int) -> HttpResponse:
    """Send the decoded bytes of the attachment, as a download."""
    try:
        attachment = Attachment.objects.select_related("message").get(
            pk=attachment_id, message__in=messages_visible_to(request.user)
        )
    except Attachment.DoesNotExist:
        raise Http404("no such attachment") from None
    message = attachment.message
    try:
        raw = message.read_raw()
    # The row outlived its bytes (a file removed from storage, or never written).
    except (OSError, ValueError) as exc:
        logger.warning(
            "attachment %s: raw message %s not readable: %s", attachment.pk, message.pk, exc
        )
        return _problem(410, "The stored copy of this message is gone, so its attachment is too.")
    part = find_part(raw, attachment.part)
    if part is None:
        logger.warning(
            "attachment %s: part %r not in message %s", attachment.pk, attachment.part, message.pk
        )
        return _problem(
            404, f"Part {attachment.part} is not in the stored message (malformed mail)."
        )
    # Undoing the transfer encoding is lenient and keeps what it can, as mail clients do; the
    # problem it reports was recorded among the message's defects when it was stored.
    data, _problem_text = part.payload()
    response = HttpResponse(data, content_type="application/octet-stream")
    response["Content-Disposition"] = attachment_disposition(attachment.filename)
    for name, value in DOWNLOAD_HEADERS.items():
        response[name] = value
    return response
