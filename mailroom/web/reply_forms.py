"""The reply form: recipients, subject and the answer, text or HTML. A value that could add a
header (a line break in the subject or an address) is refused at its field, with the reason."""

from __future__ import annotations

from typing import Any

from django import forms

from mailroom.mime.addresses import is_sendable, parse_address_list
from mailroom.rendering.sanitize import clean_template_html
from mailroom.replies.actions import ReplyInput
from mailroom.replies.draft import readable_text

# Every recipient is one RCPT of one transaction; a reply is not a mailing.
MAX_RECIPIENTS = 50
# The outbox row keeps the To addresses in one column of this size.
TO_LIMIT = 320
_LINE_BREAKS = ("\r", "\n", "\x00", "\x85", "\u2028", "\u2029")


def _no_line_breaks(value: str, what: str) -> str:
    if any(ch in value for ch in _LINE_BREAKS):
        raise forms.ValidationError(f"{what} cannot contain line breaks.")
    return value


def parse_recipients(value: str, what: str) -> list[str]:
    """The plain addresses of a To or Cc field ("a@x.test, Bob <b@y.test>"), in order, each
    once; raises ValidationError naming the first one that cannot be sent to."""
    _no_line_breaks(value, "Addresses")
    defects: list[str] = []
    addresses = parse_address_list(value.replace(";", ","), what, defects)
    found: list[str] = []
    for address in addresses:
        if not address.email or not is_sendable(address.email):
            shown = address.email or address.name or value
            raise forms.ValidationError(
                f"“{shown[:100]}” is not an email address mailroom can send to."
            )
        found.append(address.email)
    if defects and not found:
        raise forms.ValidationError(f"“{value[:100]}” is not a list of email addresses.")
    if defects:
        raise forms.ValidationError("Separate the addresses with commas.")
    return list(dict.fromkeys(found))


class ReplyForm(forms.Form):
    """Write a reply; the quote of the original is added by the server, never from the form."""

    to = forms.CharField(
        label="To", max_length=4000, help_text="One or more addresses, separated by commas."
    )
    cc = forms.CharField(label="Cc", max_length=4000, required=False)
    subject = forms.CharField(label="Subject", max_length=900)
    format = forms.ChoiceField(
        choices=[("text", "Plain text"), ("html", "Formatted")],
        initial="text",
        widget=forms.HiddenInput,
    )
    body = forms.CharField(
        label="Message", required=False, strip=False, widget=forms.Textarea(attrs={"rows": 10})
    )
    body_html = forms.CharField(required=False, strip=False, widget=forms.HiddenInput)
    # The reply's Message-ID, fixed when the form opens: sent twice, the form is one reply.
    message_id = forms.CharField(required=False, max_length=200, widget=forms.HiddenInput)
    quote = forms.BooleanField(
        label="Quote the original message below my reply", required=False, initial=True
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.is_bound and self.data.get("body_html"):
            # Shown again (with an error), the posted HTML goes back into the editor as
            # markup: only what cleaning keeps, never what was posted.
            data = {key: self.data.get(key) for key in self.data}
            data["body_html"] = clean_template_html(str(self.data.get("body_html")))
            self.data = data

    def clean_to(self) -> list[str]:
        to = parse_recipients(self.cleaned_data.get("to", ""), "To")
        if not to:
            raise forms.ValidationError("Enter at least one address.")
        if len(", ".join(to)) > TO_LIMIT:
            raise forms.ValidationError("Too many To addresses: put the others in Cc.")
        return to

    def clean_cc(self) -> list[str]:
        return parse_recipients(self.cleaned_data.get("cc", ""), "Cc")

    def clean_subject(self) -> str:
        subject: str = self.cleaned_data.get("subject", "")
        return _no_line_breaks(subject, "The subject").strip()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        to, cc = data.get("to") or [], data.get("cc") or []
        if len(to) + len(cc) > MAX_RECIPIENTS:
            self.add_error("cc", f"At most {MAX_RECIPIENTS} recipients.")
        if data.get("format") == "html":
            # What is left once the HTML is cleaned is what goes out.
            if not readable_text(clean_template_html(data.get("body_html") or "")):
                self.add_error("body", "Write a reply.")
        elif not (data.get("body") or "").strip():
            self.add_error("body", "Write a reply.")
        return data

    def reply_input(self) -> ReplyInput:
        """The cleaned form as the action's input."""
        d = self.cleaned_data
        html = d["body_html"] if d["format"] == "html" else None
        return ReplyInput(
            to=d["to"],
            cc=d["cc"],
            subject=d["subject"],
            text=d["body"],
            html=html,
            quote=d["quote"],
        )
