"""The mailbox form: one page with the sections of the product guide (General,
Synchronization, Email processing, Access management). Errors are shown at their field."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from mailroom.mailboxes.actions import MailboxInput
from mailroom.models import AccountType, CasePriority, Encryption, LeadSource, Mailbox
from mailroom.pipeline.processors.registry import load_processor, processor_choices
from mailroom.transport.errors import BadArgument
from mailroom.transport.hosts import check_host_text
from mailroom.transport.imap import check_imap_argument


class MailboxForm(forms.Form):
    """Create or edit a system mailbox. ``folders`` offers what the last check found."""

    label = forms.CharField(max_length=100, help_text="How the mailbox is named in mailroom.")
    email = forms.EmailField(help_text="The shared address, e.g. support@example.com.")

    account_type = forms.ChoiceField(choices=AccountType.choices)
    imap_enabled = forms.BooleanField(required=False, initial=True, label="Enable IMAP")
    imap_host = forms.CharField(max_length=253, required=False, label="IMAP host")
    imap_port = forms.IntegerField(initial=993, label="IMAP port", min_value=1, max_value=65535)
    imap_encryption = forms.ChoiceField(
        choices=Encryption.choices, initial="ssl", label="IMAP encryption"
    )
    smtp_enabled = forms.BooleanField(required=False, initial=True, label="Enable SMTP")
    smtp_host = forms.CharField(max_length=253, required=False, label="SMTP host")
    smtp_port = forms.IntegerField(initial=465, label="SMTP port", min_value=1, max_value=65535)
    smtp_encryption = forms.ChoiceField(
        choices=Encryption.choices, initial="ssl", label="SMTP encryption"
    )
    username = forms.CharField(max_length=254, required=False)
    password = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    folders = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Folders to synchronize",
        help_text="Check the connection to list the server's folders.",
    )

    processor_kind = forms.ChoiceField(choices=processor_choices(), label="Email processing")
    owner = forms.ModelChoiceField(
        queryset=get_user_model().objects.filter(is_active=True),
        required=False,
        to_field_name="username",
        help_text="Owner of the Leads or Cases created.",
    )
    source = forms.ModelChoiceField(
        queryset=LeadSource.objects.all(), required=False, to_field_name="name", label="Lead source"
    )
    priority = forms.ChoiceField(
        choices=CasePriority.choices, initial="normal", required=False, label="Case priority"
    )

    roles = forms.ModelMultipleChoiceField(
        queryset=Group.objects.all(), required=False, widget=forms.CheckboxSelectMultiple
    )
    users = forms.ModelMultipleChoiceField(
        queryset=get_user_model().objects.filter(is_active=True),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(
        self,
        *args: Any,
        mailbox: Mailbox | None = None,
        folder_names: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.mailbox = mailbox
        self.offer_folders(folder_names or [])
        if mailbox is not None and mailbox.connection.has_password:
            self.fields["password"].help_text = "A password is stored. Leave empty to keep it."

    def offer_folders(self, names: list[str]) -> None:
        """Show ``names`` as the folders that can be ticked."""
        field = self.fields["folders"]
        assert isinstance(field, forms.MultipleChoiceField)
        # INBOX first, then the others alphabetically, as mail clients show them.
        ordered = sorted(names, key=lambda n: (n.upper() != "INBOX", n.casefold()))
        field.choices = [(n, n) for n in ordered]

    def clean_label(self) -> str:
        label: str = self.cleaned_data["label"].strip()
        others = Mailbox.objects.filter(label=label)
        if self.mailbox is not None:
            others = others.exclude(pk=self.mailbox.pk)
        if others.exists():
            raise forms.ValidationError("Another mailbox already has this label.")
        return label

    def _clean_host(self, name: str, enabled: str) -> str:
        host: str = self.cleaned_data.get(name, "").strip()
        if not host:
            if self.data.get(enabled):
                raise forms.ValidationError("Enter the server's host name.")
            return ""
        try:
            return check_host_text(host)
        except BadArgument as exc:
            raise forms.ValidationError(str(exc).capitalize() + ".") from None

    def clean_imap_host(self) -> str:
        return self._clean_host("imap_host", "imap_enabled")

    def clean_smtp_host(self) -> str:
        return self._clean_host("smtp_host", "smtp_enabled")

    def clean_username(self) -> str:
        username: str = self.cleaned_data.get("username", "").strip()
        try:
            return check_imap_argument(username, what="username")
        except BadArgument:
            raise forms.ValidationError("The user name cannot contain line breaks.") from None

    def clean_password(self) -> str:
        password: str = self.cleaned_data.get("password", "")
        if any(ch in password for ch in "\r\n\0"):
            raise forms.ValidationError("The password cannot contain line breaks.")
        return password

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("processor_kind")
        if kind:
            for field, message in (
                load_processor(kind).validate_settings(self.processor_settings()).items()
            ):
                self.add_error(field if field in self.fields else "processor_kind", message)
        return data

    def processor_settings(self) -> dict[str, Any]:
        """The settings of the chosen processor, from the processing fields."""
        data = self.cleaned_data
        owner = data.get("owner")
        settings: dict[str, Any] = {"owner": owner.get_username()} if owner else {}
        if data.get("processor_kind") == "lead" and data.get("source"):
            settings["source"] = data["source"].name
        if data.get("processor_kind") == "case":
            settings["priority"] = data.get("priority") or "normal"
        return settings

    def mailbox_input(self) -> MailboxInput:
        """The cleaned form as the action's input."""
        d = self.cleaned_data
        return MailboxInput(
            label=d["label"],
            email=d["email"],
            account_type=d["account_type"],
            imap_enabled=d["imap_enabled"],
            imap_host=d["imap_host"],
            imap_port=d["imap_port"],
            imap_encryption=d["imap_encryption"],
            smtp_enabled=d["smtp_enabled"],
            smtp_host=d["smtp_host"],
            smtp_port=d["smtp_port"],
            smtp_encryption=d["smtp_encryption"],
            username=d["username"],
            processor_kind=d["processor_kind"],
            processor_settings=self.processor_settings(),
        )

    @staticmethod
    def initial_for(mailbox: Mailbox) -> dict[str, Any]:
        """Form values of an existing mailbox (never its password)."""
        c = mailbox.connection
        settings = mailbox.processor_settings or {}
        return {
            "label": mailbox.label,
            "email": mailbox.email,
            "account_type": mailbox.account_type,
            "imap_enabled": c.imap_enabled,
            "imap_host": c.imap_host,
            "imap_port": c.imap_port,
            "imap_encryption": c.imap_encryption,
            "smtp_enabled": c.smtp_enabled,
            "smtp_host": c.smtp_host,
            "smtp_port": c.smtp_port,
            "smtp_encryption": c.smtp_encryption,
            "username": c.username,
            "folders": list(mailbox.folders.filter(selected=True).values_list("name", flat=True)),
            "processor_kind": mailbox.processor_kind,
            "owner": settings.get("owner"),
            "source": settings.get("source"),
            "priority": settings.get("priority", "normal"),
            "roles": list(mailbox.authorized_groups.all()),
            "users": list(mailbox.authorized_users.all()),
        }
