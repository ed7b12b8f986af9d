"""Screens: reply to a message from its mailbox; send a failed reply again; copy a sent reply
to the Sent folder again. Only people who may read the mailbox reach them (404 otherwise)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from mailroom.access.policy import User as AnyUser
from mailroom.access.policy import access_mailbox, access_message
from mailroom.mime.parse import parse_message
from mailroom.models import MailboxConnection, Message, OutboxMessage, OutboxState, SentCopy
from mailroom.replies.actions import new_reply_id, original_of, queue_reply, retry_reply
from mailroom.replies.draft import addresses_of, quote_text, reply_subject
from mailroom.replies.listing import conversation_replies
from mailroom.replies.sent_copy import retry_sent_copy
from mailroom.web.reply_forms import ReplyForm


def _initial(message: Message, *, reply_all: bool) -> dict[str, object]:
    """The form as it opens: to the Reply-To (else the From), "Re: " once, the quote on.

    Mail the mailbox sent itself (a copy in a synced Sent folder) is answered to the people
    it went to, as mail programs do.
    """
    own = message.mailbox.own_addresses()
    to = addresses_of(message.reply_to) or ([message.from_email] if message.from_email else [])
    if to and all(address.lower() in own for address in to):
        to = [a for a in addresses_of(message.to) if a.lower() not in own]
    cc: list[str] = []
    if reply_all:
        others = addresses_of(message.to) + addresses_of(message.cc)
        cc = [a for a in dict.fromkeys(others) if a.lower() not in own and a not in to]
    return {
        "to": ", ".join(to),
        "cc": ", ".join(cc),
        "subject": reply_subject(message.subject),
        "format": "text",
        "quote": True,
        "message_id": new_reply_id(message),
    }


@login_required
@require_http_methods(["GET", "POST"])
def reply_compose(request: HttpRequest, message_id: int) -> HttpResponse:
    """GET: the reply form. POST: queue the reply and go back to the message."""
    message = access_message(request.user, message_id)
    if request.method == "POST":
        form = ReplyForm(request.POST)
        if form.is_valid():
            assert isinstance(request.user, User)
            reply = queue_reply(
                message,
                request.user,
                form.reply_input(),
                message_id=form.cleaned_data["message_id"],
            )
            messages.success(
                request, f"Reply to {reply.to_email} queued: it is sent in a few seconds."
            )
            return redirect("message-detail", message_id=message.pk)
    else:
        form = ReplyForm(initial=_initial(message, reply_all=request.GET.get("all") == "1"))
    return render(
        request,
        "mailroom/reply_form.html",
        {
            "form": form,
            "message": message,
            "mailbox": message.mailbox,
            "quote": quote_text(original_of(message)),
            "replies": conversation_replies(message),
            "smtp_enabled": not MailboxConnection.objects.filter(
                mailbox_id=message.mailbox_id, smtp_enabled=False
            ).exists(),
            "section": "mailboxes",
        },
    )


def _access_reply(user: AnyUser, reply_id: int) -> OutboxMessage:
    """The reply, if ``user`` may read the mailbox it was sent from (and its message); 404."""
    reply = (
        OutboxMessage.objects.select_related("mailbox", "author", "in_reply_to")
        .filter(pk=reply_id)
        .first()
    )
    if reply is None:
        raise Http404("no such reply")
    access_mailbox(user, reply.mailbox_id)
    if reply.in_reply_to_id is not None:
        access_message(user, reply.in_reply_to_id)
    return reply


@login_required
def reply_detail(request: HttpRequest, reply_id: int) -> HttpResponse:
    """One reply written in mailroom: who wrote it, to whom, where it stands, its text."""
    reply = _access_reply(request.user, reply_id)
    if reply.sent_copy == SentCopy.NONE:
        # An autoresponse has its own page.
        return redirect("answer-detail", answer_id=reply.pk)
    text = parse_message(bytes(reply.raw)).text_body
    return render(
        request,
        "mailroom/reply_detail.html",
        {
            "reply": reply,
            "replies": [reply],
            "message": reply.in_reply_to,
            "text": text,
            "section": "mailboxes",
        },
    )


def _back(request: HttpRequest, reply: OutboxMessage) -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    if reply.in_reply_to_id is not None:
        return redirect("message-detail", message_id=reply.in_reply_to_id)
    return redirect("mailbox-detail", mailbox_id=reply.mailbox_id)


@login_required
@require_POST
def reply_retry(request: HttpRequest, reply_id: int) -> HttpResponse:
    """Send a refused reply again; one whose outcome is unknown only once the person has
    confirmed that it may reach its recipients twice."""
    reply = _access_reply(request.user, reply_id)
    if reply.sent_copy == SentCopy.NONE:
        raise Http404("only replies written in mailroom are sent again from here")
    if reply.state == OutboxState.ABANDONED and request.POST.get("confirm") != "1":
        messages.error(
            request,
            "This reply may have been delivered already. Confirm that it may arrive twice "
            "to send it again.",
        )
    elif retry_reply(reply):
        messages.success(request, f"The reply to {reply.to_email} is sent again.")
    else:
        messages.info(request, "This reply is not waiting for a retry.")
    return _back(request, reply)


@login_required
@require_POST
def reply_copy_retry(request: HttpRequest, reply_id: int) -> HttpResponse:
    """Copy a sent reply to the Sent folder again (it is not sent again)."""
    reply = _access_reply(request.user, reply_id)
    if retry_sent_copy(reply):
        messages.success(request, "The reply is copied to the Sent folder again.")
    else:
        messages.info(request, "This reply's copy to the Sent folder did not fail.")
    return _back(request, reply)
