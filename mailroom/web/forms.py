"""The mailbox form: one page with the sections of the product guide (General,
Synchronization, Email processing, Access management). Errors are shown at their field."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, User
from django.db.models import QuerySet
from django.http import QueryDict

from mailroom.access.policy import readers_of
from mailroom.crm.lists import NO_ACTIVE_SALES_CHANNEL, sales_channel_active
from mailroom.mailboxes.actions import SERVER_FIELDS, MailboxInput
from mailroom.models import (
    AccountType,
    Encryption,
    HistoryMode,
    Mailbox,
)
from mailroom.people.readers import posted_ids, readers_given
from mailroom.pipeline.processors.registry import (
    load_processor,
    processor_choices,
    registered,
)
from mailroom.pipeline.processors.settings import ProcessorSettings
from mailroom.rendering.language import normalise_tag
from mailroom.transport.errors import BadArgument
from mailroom.transport.hosts import check_host_text
from mailroom.transport.imap import check_imap_argument

# The settings a stored password belongs to: change one, and the password must be typed again,
# so that the stored secret is never sent to a server, or an account, it was not entered for.
# Changing one of these on a mailbox that has an IMAP host connects a different account
# (mailroom.mailboxes.actions.is_new_account decides; these are the fields it compares).
ACCOUNT_FIELDS = ("account_type", "imap_host", "imap_port", "username")

NEW_ACCOUNT_WARNING = (
    "This connects a different account: a new mailbox account will be registered; mail "
    "already stored stays, marked as from the earlier account."
)

HISTORY_HELP = (
    "Mail already on the server when the account is connected is history: it is stored and "
    "threaded, but never answered by autoresponse rules. The cut-off is set when the account "
    "is connected; saving the mailbox again never moves it."
)


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

    # Shown when an account is connected: on create, and when the account changes.
    history_mode = forms.ChoiceField(
        choices=[
            (HistoryMode.NONE, "None (default)"),
            (HistoryMode.DAYS, "Last N days"),
            (HistoryMode.ALL, "All"),
        ],
        required=False,
        initial=HistoryMode.NONE,
        widget=forms.RadioSelect,
        label="Import existing mail",
        help_text=HISTORY_HELP,
    )
    history_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=36500,
        label="Days of existing mail",
        help_text="With “Last N days”: how many days back.",
    )
    language = forms.CharField(
        max_length=35,
        required=False,
        label="Answer language",
        help_text="The language autoresponses are written in when the sender's is not known "
        "(e.g. de); empty: each response's default language.",
    )
    aliases = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Other addresses",
        help_text="Aliases whose mail reaches this mailbox, one per line: autoresponse rules "
        "answer mail that names the mailbox's address or one of these.",
    )
    sent_folder = forms.CharField(
        max_length=500,
        required=False,
        label="Sent folder",
        help_text="Where replies written in mailroom are copied (as the server lists it, "
        "e.g. Sent); empty: the folder the server marks as Sent.",
    )
    history_convert = forms.BooleanField(
        required=False,
        label="Convert imported history to Leads/Cases",
        help_text="Only with “Convert to Lead” or “Convert to Case”. History is never answered.",
    )
    confirm_new_account = forms.BooleanField(
        required=False, label="Yes, connect the different account"
    )

    processor_kind = forms.ChoiceField(choices=processor_choices, label="Email processing")

    # Searchable (multiselect.js) where there are many; plain multiple selects without script.
    roles = forms.ModelMultipleChoiceField(
        queryset=Group.objects.order_by("name"),
        required=False,
        widget=forms.SelectMultiple(attrs={"data-searchable": True, "size": 6}),
    )
    users = forms.ModelMultipleChoiceField(
        queryset=get_user_model().objects.filter(is_active=True).order_by("username"),
        required=False,
        widget=forms.SelectMultiple(attrs={"data-searchable": True, "size": 6}),
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
        if isinstance(self.data, QueryDict) and not self.data.get("history_mode"):
            # The history choice is only on the page when an account is connected; when it
            # appears on a page posted without it, it shows the default.
            data = self.data.copy()
            data["history_mode"] = HistoryMode.NONE
            self.data = data
        self.offer_folders(folder_names or [])
        if mailbox is not None and mailbox.connection.has_password:
            self.fields["password"].help_text = "A password is stored. Leave empty to keep it."
        self._offer_processors()

    def _offer_processors(self) -> None:
        """Offer "Convert to Lead" only while a Sales channel is active (a mailbox already set
        to it keeps it, marked); give each processor that has settings its own form, its
        fields prefixed with its kind."""
        mailbox = self.mailbox
        self.lead_offered = sales_channel_active()
        self.keeps_lead = (
            not self.lead_offered and mailbox is not None and mailbox.processor_kind == "lead"
        )
        kind = self.fields["processor_kind"]
        assert isinstance(kind, forms.ChoiceField)
        # The field accepts every kind, so that a posted "lead" is refused with the reason;
        # the menu shows only what may be chosen.
        kind.choices = processor_choices()
        if not self.lead_offered:
            kind.widget.choices = [
                (k, f"{label} (not converting: no active sales channel)" if k == "lead" else label)
                for k, label in processor_choices()
                if k != "lead" or self.keeps_lead
            ]
        self.settings_forms: dict[str, ProcessorSettings] = {}
        readers = self.readers()
        for processor_kind, cls in registered().items():
            if cls.settings_form is None:
                continue
            current = (
                (mailbox.processor_settings or {})
                if mailbox is not None and mailbox.processor_kind == processor_kind
                else {}
            )
            self.settings_forms[processor_kind] = cls.settings_form(
                self.data if self.is_bound else None,
                prefix=processor_kind,
                initial=cls.settings_form.initial_from(current),
                current=current,
                readers=readers,
            )

    def readers(self) -> QuerySet[User]:
        """Who can read the mailbox with the access chosen on this page: posted, the roles and
        users picked (the fields themselves refuse unknown ones); else, as saved. Owners and
        assignees are offered among them only."""
        if not self.is_bound:
            return readers_of(self.mailbox)
        data: Any = self.data
        pick = data.getlist if hasattr(data, "getlist") else lambda k: list(data.get(k) or [])
        return readers_given(posted_ids(pick("users")), posted_ids(pick("roles")))

    def processor_sections(self) -> list[tuple[str, str, ProcessorSettings]]:
        """(kind, label, settings form) of each processor with settings, for the template."""
        labels = dict(processor_choices())
        return [(k, labels[k], form) for k, form in self.settings_forms.items()]

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

    def clean_language(self) -> str:
        value: str = self.cleaned_data.get("language", "").strip()
        if not value:
            return ""
        tag = normalise_tag(value)
        if not tag:
            raise forms.ValidationError("A language code such as en, de or pt-BR.")
        return tag

    def clean_aliases(self) -> str:
        lines = [line.strip() for line in self.cleaned_data.get("aliases", "").splitlines()]
        addresses = [line for line in lines if line]
        validate = forms.EmailField().clean
        for address in addresses:
            try:
                validate(address)
            except forms.ValidationError:
                raise forms.ValidationError(f"“{address[:100]}” is not an email address.") from None
        return "\n".join(dict.fromkeys(a.lower() for a in addresses))

    def clean_sent_folder(self) -> str:
        value: str = self.cleaned_data.get("sent_folder", "").strip()
        try:
            return check_imap_argument(value, what="folder")
        except BadArgument:
            raise forms.ValidationError("The folder name cannot contain line breaks.") from None

    def clean_history_mode(self) -> str:
        mode: str = self.cleaned_data.get("history_mode") or HistoryMode.NONE
        return mode

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("history_mode") == HistoryMode.DAYS and not data.get("history_days"):
            if "history_days" not in self.errors:
                self.add_error("history_days", "Enter how many days of existing mail to import.")
        elif data.get("history_mode") != HistoryMode.DAYS:
            data["history_days"] = None
        kind = data.get("processor_kind")
        if kind == "lead" and not self.lead_offered and not self.keeps_lead:
            self.add_error("processor_kind", NO_ACTIVE_SALES_CHANNEL)
        if kind:
            self._clean_processor_settings(kind)
        return data

    def _clean_processor_settings(self, kind: str) -> None:
        """The chosen processor's settings form must be valid, and its settings pass the
        processor's own checks; an error shows at its field of that form."""
        settings_form = self.settings_forms.get(kind)
        if settings_form is not None and not settings_form.is_valid():
            self.add_error("processor_kind", "Check the settings of this processor below.")
            return
        for field, message in (
            load_processor(kind).validate_settings(self.processor_settings()).items()
        ):
            if kind == "lead" and not self.lead_offered and field == "processor_kind":
                continue  # said above, or kept: the mailbox already converts to Leads
            if settings_form is not None and field in settings_form.fields:
                settings_form.add_error(field, message)
                self.add_error("processor_kind", "Check the settings of this processor below.")
            else:
                self.add_error("processor_kind", message)

    def processor_settings(self) -> dict[str, Any]:
        """The settings of the chosen processor, from its settings form."""
        settings_form = self.settings_forms.get(self.cleaned_data.get("processor_kind") or "")
        if settings_form is None or not settings_form.is_valid():
            return {}
        return settings_form.to_settings()

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
            history_mode=d["history_mode"],
            history_days=d["history_days"],
            history_convert=d["history_convert"],
            language=d["language"],
            aliases=d["aliases"],
            sent_folder=d["sent_folder"],
        )

    def account_input(self) -> MailboxInput:
        """The connection settings typed so far (the rest left at defaults), to compare them
        with the stored ones; usable when only the connection fields are valid."""
        d = self.cleaned_data
        current = self.mailbox.connection if self.mailbox is not None else None
        values: dict[str, Any] = {
            name: d.get(name, getattr(current, name, None)) for name in SERVER_FIELDS
        }
        account_type = d.get("account_type") or (
            self.mailbox.account_type if self.mailbox else AccountType.OTHER
        )
        return MailboxInput(label="", email="", account_type=account_type, **values)

    @staticmethod
    def initial_for(mailbox: Mailbox) -> dict[str, Any]:
        """Form values of an existing mailbox (never its password)."""
        c = mailbox.connection
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
            "history_mode": mailbox.history_mode,
            "history_days": mailbox.history_days,
            "history_convert": mailbox.history_convert,
            "language": mailbox.language,
            "aliases": mailbox.aliases,
            "sent_folder": mailbox.sent_folder,
            "processor_kind": mailbox.processor_kind,
            "roles": list(mailbox.authorized_groups.all()),
            "users": list(mailbox.authorized_users.all()),
        }
