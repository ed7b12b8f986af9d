"""Screen: one stored message, as text, with its processing record, and "Process again"."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from mailroom.access.policy import access_mailbox, access_message, is_admin
from mailroom.pipeline.engine import MAX_ATTEMPTS, reset_processing
from mailroom.tasks.jobs import enqueue_processing
from mailroom.web.health import when


@login_required
def message_detail(request: HttpRequest, message_id: int) -> HttpResponse:
    message = access_message(request.user, message_id)
    processing = getattr(message, "processing", None)
    respond = [s for s in (processing.steps if processing else []) if s.get("step") == "respond"]
    return render(
        request,
        "mailroom/message_detail.html",
        {
            "message": message,
            "processing": processing,
            "next_attempt": when(processing.retry_at, default="") if processing else "",
            "max_attempts": MAX_ATTEMPTS,
            "attachments": message.attachments.all(),
            "can_manage": is_admin(request.user),
            "answers": message.replies.select_related("rule").order_by("id"),
            # What the respond step said: which rule answered, or why none did.
            "answer_note": respond[-1].get("detail", "") if respond else "",
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
