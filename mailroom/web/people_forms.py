"""Forms of the People screens: a user, a role. The multi-selects carry ``data-searchable`` so
that multiselect.js adds a filter box; without script they are plain multiple selects."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.models import Group, User

from mailroom.models import Mailbox
from mailroom.people.actions import PersonInput, login_name

MIN_PASSWORD = 10
SEARCHABLE = {"data-searchable": True, "size": 8}

GENERATE = "generate"
CHOOSE = "choose"


class PersonChoiceField(forms.ModelMultipleChoiceField[User]):
    """Users by name and email."""

    def label_from_instance(self, obj: User) -> str:
        name = obj.get_full_name()
        return f"{name} <{obj.email or obj.username}>" if name else obj.email or obj.username


class PersonForm(forms.Form):
    """Create or edit a user: name, email (their login), roles, administrator; on create, a
    password chosen here or generated and shown once."""

    name = forms.CharField(max_length=150, required=False)
    email = forms.EmailField(max_length=150, help_text="Also what they log in with.")
    roles = forms.ModelMultipleChoiceField(
        queryset=Group.objects.order_by("name"),
        required=False,
        widget=forms.SelectMultiple(attrs=SEARCHABLE),
        help_text="They read the mailboxes their roles may read.",
    )
    is_admin = forms.BooleanField(
        required=False,
        label="Administrator",
        help_text="Reads every mailbox and manages mailboxes, rules, templates and people.",
    )
    password_mode = forms.ChoiceField(
        choices=[
            (GENERATE, "Generate a password, shown once, to pass on"),
            (CHOOSE, "Set a password"),
        ],
        initial=GENERATE,
        widget=forms.RadioSelect,
        label="Password",
        required=False,
    )
    password = forms.CharField(
        required=False,
        strip=False,
        label="Their password",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=f"At least {MIN_PASSWORD} characters.",
    )

    def __init__(self, *args: Any, person: User | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.person = person
        if person is not None:
            del self.fields["password_mode"]
            del self.fields["password"]

    @staticmethod
    def initial_for(person: User) -> dict[str, Any]:
        return {
            "name": person.get_full_name(),
            "email": person.email or person.username,
            "roles": list(person.groups.all()),
            "is_admin": person.is_staff,
        }

    def clean_email(self) -> str:
        email = login_name(self.cleaned_data["email"])
        others = User.objects.filter(username__iexact=email) | User.objects.filter(
            email__iexact=email
        )
        if self.person is not None:
            others = others.exclude(pk=self.person.pk)
        if others.exists():
            raise forms.ValidationError("Someone already has this email address.")
        return email

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.person is None and data.get("password_mode") == CHOOSE:
            password = data.get("password") or ""
            if len(password) < MIN_PASSWORD:
                self.add_error("password", f"Enter at least {MIN_PASSWORD} characters.")
            elif any(ch in password for ch in "\r\n\0"):
                self.add_error("password", "The password cannot contain line breaks.")
        return data

    def person_input(self) -> PersonInput:
        d = self.cleaned_data
        return PersonInput(
            name=d["name"],
            email=d["email"],
            is_admin=d["is_admin"],
            role_ids=[g.pk for g in d["roles"]],
        )

    def chosen_password(self) -> str | None:
        """The password typed, or None to generate one."""
        if self.cleaned_data.get("password_mode") == CHOOSE:
            password: str = self.cleaned_data["password"]
            return password
        return None


class RoleForm(forms.Form):
    """A role: its name, its members and the mailboxes they may read."""

    name = forms.CharField(max_length=150)
    members = PersonChoiceField(
        queryset=User.objects.filter(is_active=True).order_by("username"),
        required=False,
        widget=forms.SelectMultiple(attrs=SEARCHABLE),
    )
    mailboxes = forms.ModelMultipleChoiceField(
        queryset=Mailbox.objects.order_by("label"),
        required=False,
        widget=forms.SelectMultiple(attrs=SEARCHABLE),
        label="Mailboxes they may read",
    )

    def __init__(self, *args: Any, role: Group | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.role = role

    @staticmethod
    def initial_for(role: Group) -> dict[str, Any]:
        return {
            "name": role.name,
            "members": list(role.user_set.filter(is_active=True)),
            "mailboxes": list(role.authorized_mailboxes.all()),
        }

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Enter a name.")
        others = Group.objects.filter(name__iexact=name)
        if self.role is not None:
            others = others.exclude(pk=self.role.pk)
        if others.exists():
            raise forms.ValidationError("Another role already has this name.")
        return name
