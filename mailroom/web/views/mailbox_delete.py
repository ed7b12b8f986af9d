"""Screen: delete a mailbox, only after a page that says what goes and the label typed back."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from mailroom.access.policy import access_mailbox
from mailroom.mailboxes.actions import delete_mailbox, deletion_summary
from mailroom.models import Mailbox


class DeleteMailboxForm(forms.Form):
    """The mailbox's label, typed again: a deliberate act, not a slipped click."""

    confirm_label = forms.CharField(label="Type the mailbox label to confirm", strip=True)

    def __init__(self, *args: object, mailbox: Mailbox, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.mailbox = mailbox

    def clean_confirm_label(self) -> str:
        label: str = self.cleaned_data["confirm_label"]
        if label != self.mailbox.label:
            raise forms.ValidationError(
                f"This is not the mailbox's label; type “{self.mailbox.label}” exactly."
            )
        return label


@login_required
@require_http_methods(["GET", "POST"])
def mailbox_delete(request: HttpRequest, mailbox_id: int) -> HttpResponse:
    mailbox = access_mailbox(request.user, mailbox_id, manage=True)
    form = DeleteMailboxForm(request.POST or None, mailbox=mailbox)
    if request.method == "POST" and form.is_valid():
        summary = deletion_summary(mailbox)
        label = mailbox.label
        delete_mailbox(mailbox)
        messages.success(
            request, f"Mailbox “{label}” deleted, with its {summary.messages:,} stored messages."
        )
        return redirect("mailbox-list")
    return render(
        request,
        "mailroom/mailbox_delete.html",
        {
            "mailbox": mailbox,
            "form": form,
            "summary": deletion_summary(mailbox),
            "section": "mailboxes",
        },
    )
