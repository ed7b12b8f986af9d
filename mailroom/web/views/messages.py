"""Screen: one stored message, as text, with its processing record."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from mailroom.access.policy import access_message


@login_required
def message_detail(request: HttpRequest, message_id: int) -> HttpResponse:
    message = access_message(request.user, message_id)
    processing = getattr(message, "processing", None)
    return render(
        request,
        "mailroom/message_detail.html",
        {
            "message": message,
            "processing": processing,
            "attachments": message.attachments.all(),
        },
    )
