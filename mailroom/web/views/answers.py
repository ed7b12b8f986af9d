"""Screen: one answer mailroom sent (or tried to send), as text, for those who may read the
email it answers."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from mailroom.access.policy import access_message
from mailroom.mime.parse import parse_message
from mailroom.models import OutboxMessage


@login_required
def answer_detail(request: HttpRequest, answer_id: int) -> HttpResponse:
    answer = OutboxMessage.objects.select_related("rule").filter(pk=answer_id).first()
    if answer is None or answer.in_reply_to_id is None:
        raise Http404("no such answer")
    message = access_message(request.user, answer.in_reply_to_id)
    parsed = parse_message(bytes(answer.raw))
    return render(
        request,
        "mailroom/answer_detail.html",
        {
            "answer": answer,
            "message": message,
            "language": parsed.header("Content-Language") or "",
            # The text part only: the HTML part is the template's, shown as text here.
            "text": parsed.text_body,
            "section": "mailboxes",
        },
    )
