"""The settings form a processor may declare: its fields are the keys of the mailbox's
``processor_settings`` (plain JSON, so that a configuration exports and imports).

The mailbox form shows the chosen processor's form in its "Email processing" section (each
processor's fields are prefixed with its kind, so two processors may both have an "owner"); the
CLI and ``config import`` check the same settings with ``Processor.validate_settings``, which
by default binds them to this form.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db.models import Model, Q, QuerySet


class ProcessorSettings(forms.Form):
    """Base of a processor's settings form. ``current``: the settings the mailbox has now (so
    that, say, an inactive option the mailbox keeps can still be shown)."""

    def __init__(
        self,
        *args: Any,
        current: dict[str, Any] | None = None,
        readers: QuerySet[User] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.current: dict[str, Any] = dict(current or {})
        self.reader_ids: set[int] | None = None
        if readers is not None:
            self._offer_readers(readers)

    def _offer_readers(self, readers: QuerySet[User]) -> None:
        """Offer in each user field only ``readers`` (the people who can read the mailbox),
        and the user the mailbox names now, marked, so that it shows rather than vanishes."""
        self.reader_ids = set(readers.values_list("pk", flat=True))
        for name, field in self.fields.items():
            if isinstance(field, UserChoiceField):
                field.reader_ids = self.reader_ids
                named = str(self.current.get(name) or "")
                field.queryset = (
                    get_user_model()
                    .objects.filter(Q(pk__in=self.reader_ids) | Q(username=named, is_active=True))
                    .order_by("username")
                )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.reader_ids is None:
            return data
        for name, field in self.fields.items():
            chosen = data.get(name)
            chosen_pk = getattr(chosen, "pk", None)
            if isinstance(field, UserChoiceField) and chosen_pk not in (None, *self.reader_ids):
                self.add_error(name, NOT_A_READER)
        return data

    def to_settings(self) -> dict[str, Any]:
        """The cleaned form as stored settings: a chosen row by the field's ``to_field_name``
        (a name, not a number), empty values left out, yes/no kept."""
        settings: dict[str, Any] = {}
        for name, value in self.cleaned_data.items():
            if isinstance(value, Model):
                key = getattr(self.fields[name], "to_field_name", None) or "pk"
                value = getattr(value, key)
            if value is None or value == "" or value == []:
                continue
            settings[name] = value
        return settings

    @classmethod
    def initial_from(cls, settings: dict[str, Any]) -> dict[str, Any]:
        """Form values for stored ``settings`` (the opposite of :meth:`to_settings`)."""
        return {name: value for name, value in settings.items() if name in cls.base_fields}


def form_errors(form_class: type[ProcessorSettings], settings: dict[str, Any]) -> dict[str, str]:
    """Field errors of ``settings`` checked by ``form_class`` (the default validation)."""
    form = form_class(data=dict(settings), current=settings)
    return {name: "; ".join(str(e) for e in errors) for name, errors in form.errors.items()}


# Why a user field refuses someone: Leads and Cases are for people who can open them.
NOT_A_READER = (
    "This person cannot read this mailbox: choose an administrator or someone given access "
    "under Access management."
)


class UserChoiceField(forms.ModelChoiceField[User]):
    """An active user, stored by user name; with ``reader_ids`` set, one who cannot read the
    mailbox is marked (and refused by the form)."""

    reader_ids: set[int] | None = None

    def to_python(self, value: Any) -> User | None:
        # Any active user is a valid value (the menu offers fewer): one who cannot read the
        # mailbox is then refused by the form with the reason, not as an unknown choice.
        if value in self.empty_values:
            return None
        user = get_user_model().objects.filter(is_active=True, username=str(value)).first()
        if user is None:
            raise forms.ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice"
            )
        return user

    def label_from_instance(self, obj: User) -> str:
        name = obj.get_full_name()
        login = obj.get_username()
        text = f"{name} ({login})" if name else login
        if self.reader_ids is not None and obj.pk not in self.reader_ids:
            text += " — cannot read this mailbox"
        return text


def user_field(label: str, help_text: str) -> UserChoiceField:
    """An active user, stored by user name. Given the mailbox's readers, the settings form
    offers only them."""
    return UserChoiceField(
        queryset=get_user_model().objects.filter(is_active=True),
        required=False,
        to_field_name="username",
        label=label,
        help_text=help_text,
    )


def reader_errors(
    form_class: type[ProcessorSettings], settings: dict[str, Any], readers: QuerySet[User]
) -> dict[str, str]:
    """Errors of the user fields of ``settings`` that name someone not among ``readers``
    (the CLI and ``config import`` check with this what the mailbox form offers)."""
    errors = {}
    for name, field in form_class.base_fields.items():
        username = settings.get(name)
        known = isinstance(field, UserChoiceField) and bool(username)
        if known and not readers.filter(username=str(username)).exists():
            errors[name] = (
                f"{username!r} cannot read this mailbox (not an administrator, and not "
                "given access by user or role)"
            )
    return errors
