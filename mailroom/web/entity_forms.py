"""Forms of the Lead sources and Sales channels pages, and of the Lead and Case pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.db.models import Model, QuerySet

from mailroom.models import CaseStatus, LeadSource, LeadStatus, SalesChannel


class NameForm(forms.Form):
    """The name of a new or renamed option; names are unique, whatever their case."""

    name = forms.CharField(max_length=100)

    def __init__(
        self,
        *args: Any,
        model: type[LeadSource] | type[SalesChannel],
        instance: Model | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.model = model
        self.instance = instance

    def clean_name(self) -> str:
        name: str = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError("Enter a name.")
        others = self.model.objects.filter(name__iexact=name)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise forms.ValidationError(f"There is already an option named “{name}”.")
        return name


class PersonChoiceField(forms.ModelChoiceField[User]):
    """A user, shown by user name; "—" for nobody."""

    def label_from_instance(self, obj: User) -> str:
        return obj.get_username()


class LeadChangeForm(forms.Form):
    """Status and owner of a Lead; the owner is one of the people who may read its mailbox."""

    status = forms.ChoiceField(choices=LeadStatus.choices)
    owner = PersonChoiceField(queryset=User.objects.none(), required=False, empty_label="—")

    def __init__(self, *args: Any, people: QuerySet[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["owner"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = people


class CaseChangeForm(forms.Form):
    """Status and assignee of a Case; the assignee is one of the people who may read its
    mailbox."""

    status = forms.ChoiceField(choices=CaseStatus.choices)
    assignee = PersonChoiceField(queryset=User.objects.none(), required=False, empty_label="—")

    def __init__(self, *args: Any, people: QuerySet[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["assignee"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = people
