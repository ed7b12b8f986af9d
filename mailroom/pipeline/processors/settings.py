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
from django.db.models import Model


class ProcessorSettings(forms.Form):
    """Base of a processor's settings form. ``current``: the settings the mailbox has now (so
    that, say, an inactive option the mailbox keeps can still be shown)."""

    def __init__(self, *args: Any, current: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.current: dict[str, Any] = dict(current or {})

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


def user_field(label: str, help_text: str) -> forms.ModelChoiceField[User]:
    """An active user, stored by user name."""
    return forms.ModelChoiceField(
        queryset=get_user_model().objects.filter(is_active=True),
        required=False,
        to_field_name="username",
        label=label,
        help_text=help_text,
    )
