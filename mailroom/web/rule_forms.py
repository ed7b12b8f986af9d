"""The rule editor's forms (the seed's Add Rule form): the rule, its condition rows and the
texts of a response written in the rule, one row per language. Errors show at their field or
row."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.forms import BaseFormSet, formset_factory

from mailroom import conf
from mailroom.models import (
    AutoResponseRule,
    ConditionField,
    ConditionOperator,
    EmailTemplate,
    Mailbox,
    TemplateType,
)
from mailroom.rules.actions import ResponseText
from mailroom.rules.operators import condition_errors
from mailroom.rules.save import InlineResponse, RuleInput

# A language as a template names it: "en", "de", "pt-br" (BCP 47, lowercase).
_LANGUAGE = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{2,8})?")

BCC_HELP = (
    "Bcc is known only where the server delivers a Bcc header (usually it does not): a "
    "condition on Bcc sees an empty field otherwise."
)

RESPONSE_CHOICES = (
    ("inline", "Write the response here"),
    ("template", "Use a template from the library"),
)


LANGUAGE_HELP = "A language code such as en, de or pt-br."


def language_code(value: str) -> str:
    """A language as templates name it, or a field error."""
    language = value.strip().lower().replace("_", "-")
    if not _LANGUAGE.fullmatch(language):
        raise forms.ValidationError(LANGUAGE_HELP)
    return language


class ConditionForm(forms.Form):
    """One row: field, operator, value."""

    # A new rule starts with a row showing these: left as it is, the row is no condition.
    field = forms.ChoiceField(choices=ConditionField.choices, initial=ConditionField.SUBJECT)
    operator = forms.ChoiceField(
        choices=ConditionOperator.choices, initial=ConditionOperator.CONTAINS
    )
    value = forms.CharField(
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 1}),
        help_text="“is any of”: one value per line; “matches regex”: an RE2 pattern.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "field" in data and "operator" in data:
            error = condition_errors(data["field"], data["operator"], data.get("value", ""))
            if error:
                self.add_error("value", error[0].upper() + error[1:] + ".")
        return data


class TranslationForm(forms.Form):
    """A response's subject and body in one language."""

    # Empty in a row added with "+ Add language": the language is the one thing to type.
    language = forms.CharField(max_length=10)
    subject = forms.CharField(max_length=500, required=False)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}), required=False)

    def clean_language(self) -> str:
        return language_code(self.cleaned_data["language"])

    def clean(self) -> dict[str, Any]:
        """A language left empty (a configured language's tab not written) is no text; one
        half-written is an error at the missing half."""
        data = super().clean() or {}
        subject, body = data.get("subject", "").strip(), data.get("body", "").strip()
        data["empty"] = not subject and not body
        if subject and not body:
            self.add_error("body", "Write the text, or empty the subject too.")
        elif body and not subject:
            self.add_error("subject", "Write the subject, or empty the text too.")
        return data


class BaseTranslationFormSet(BaseFormSet[TranslationForm]):
    def clean(self) -> None:
        super().clean()
        seen: set[str] = set()
        for form in self.forms:
            if not form.cleaned_data or form.cleaned_data.get("DELETE"):
                continue
            if form.cleaned_data.get("empty"):
                continue
            language = str(form.cleaned_data.get("language") or "")
            if language in seen:
                form.add_error("language", "This language has a text already.")
            seen.add(language)


ConditionFormSet = formset_factory(ConditionForm, extra=0, can_delete=True)
TranslationFormSet = formset_factory(
    TranslationForm, formset=BaseTranslationFormSet, extra=0, can_delete=True
)


class RuleForm(forms.Form):
    """The rule itself and where its response comes from."""

    name = forms.CharField(max_length=100)
    active = forms.BooleanField(required=False, initial=True, label="Active")
    position = forms.IntegerField(
        min_value=0,
        max_value=100000,
        label="Order",
        help_text="Rules are evaluated from the lowest number up.",
    )
    stop_after = forms.BooleanField(
        required=False,
        label="Stop after this rule",
        help_text="When this rule matches a message, the rules after it are not evaluated.",
    )
    case_sensitive = forms.BooleanField(
        required=False,
        label="Match case",
        help_text="Otherwise conditions ignore upper and lower case.",
    )
    answer_unaddressed = forms.BooleanField(
        required=False,
        label="Also answer mail not addressed to this mailbox",
        help_text="Mail that does not name the mailbox's address or an alias in To, Cc or Bcc "
        "(a Bcc copy, a catch-all) is not answered otherwise (RFC 3834).",
    )
    response = forms.ChoiceField(
        choices=RESPONSE_CHOICES, initial="inline", widget=forms.RadioSelect, label="Response"
    )
    template = forms.ModelChoiceField(
        queryset=EmailTemplate.objects.filter(in_library=True),
        required=False,
        to_field_name="name",
        label="Template",
    )
    type = forms.ChoiceField(
        choices=TemplateType.choices, initial=TemplateType.TEXT, label="Format"
    )
    default_language = forms.CharField(
        max_length=10,
        initial="en",
        label="Default language",
        help_text="Sent when the sender's language has no text of its own.",
    )
    save_as_template = forms.BooleanField(
        required=False,
        label="Save response as email template",
        help_text="Puts this response into the template library under the name below.",
    )
    library_name = forms.CharField(max_length=100, required=False, label="Template name")

    def __init__(
        self, *args: Any, mailbox: Mailbox, rule: AutoResponseRule | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.mailbox, self.rule = mailbox, rule

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"].strip()
        others = self.mailbox.rules.filter(name=name)
        if self.rule is not None:
            others = others.exclude(pk=self.rule.pk)
        if others.exists():
            raise forms.ValidationError("This mailbox has a rule with this name already.")
        return name

    def clean_default_language(self) -> str:
        return language_code(self.cleaned_data["default_language"])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("response") == "template":
            if not data.get("template") and "template" not in self.errors:
                self.add_error("template", "Choose a template, or write the response here.")
            data["save_as_template"] = False
        elif data.get("save_as_template"):
            name = (data.get("library_name") or "").strip()
            if not name:
                self.add_error("library_name", "Name the template.")
            elif EmailTemplate.objects.filter(in_library=True, name=name).exists():
                self.add_error("library_name", "A template with this name exists already.")
            data["library_name"] = name
        return data


def configured_languages() -> list[str]:
    """The languages of ``MAILROOM_LANGUAGES`` that are language codes (a tab each)."""
    return [tag for tag in conf.LANGUAGES if _LANGUAGE.fullmatch(tag)] or ["en"]


def language_rows(texts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The editor's text rows: one per configured language (its text where the response has
    one, else empty), then the response's other languages."""
    by_language = {t["language"]: t for t in texts}
    rows = [by_language.pop(tag, {"language": tag}) for tag in configured_languages()]
    return rows + list(by_language.values())


def kept(formset: BaseFormSet[Any]) -> list[dict[str, Any]]:
    """The cleaned rows of a valid formset that were not removed ("x") nor left empty."""
    return [
        f.cleaned_data
        for f in formset.forms
        if f.cleaned_data and not f.cleaned_data.get("DELETE") and not f.cleaned_data.get("empty")
    ]


def check_texts(form: RuleForm, texts: BaseFormSet[TranslationForm]) -> None:
    """A response written in the rule needs a text, and one in its default language."""
    if form.cleaned_data.get("response") != "inline" or not texts.is_valid():
        return
    languages = [t["language"] for t in kept(texts)]
    default = form.cleaned_data.get("default_language")
    if not languages:
        form.add_error("response", "Write the response in at least one language.")
    elif default and default not in languages:
        form.add_error(
            "default_language", f"Write a text in {default}, or choose another default language."
        )


def rule_input(
    form: RuleForm, conditions: BaseFormSet[ConditionForm], texts: BaseFormSet[TranslationForm]
) -> RuleInput:
    """The valid forms as the input of :func:`mailroom.rules.save.save_rule`."""
    d = form.cleaned_data

    inline = None
    if d["response"] == "inline":
        inline = InlineResponse(
            type=d["type"],
            default_language=d["default_language"],
            texts=[ResponseText(t["language"], t["subject"], t["body"]) for t in kept(texts)],
        )
    return RuleInput(
        name=d["name"],
        active=d["active"],
        position=d["position"],
        stop_after=d["stop_after"],
        answer_unaddressed=d["answer_unaddressed"],
        case_sensitive=d["case_sensitive"],
        conditions=[(c["field"], c["operator"], c.get("value", "")) for c in kept(conditions)],
        template=d["template"] if d["response"] == "template" else None,
        inline=inline,
        save_as=d["library_name"] if d.get("save_as_template") else "",
    )


def initial_for(
    rule: AutoResponseRule,
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """The editor's initial values for a stored rule: the rule, its conditions, its texts."""
    template = rule.template
    rule_values: dict[str, Any] = {
        "name": rule.name,
        "active": rule.active,
        "position": rule.position,
        "stop_after": rule.stop_after,
        "answer_unaddressed": rule.answer_unaddressed,
        "case_sensitive": rule.case_sensitive,
        "response": "template" if template.in_library else "inline",
        "template": template.name if template.in_library else None,
        "type": template.type,
        "default_language": template.default_language,
    }
    conditions = [
        {"field": c.field, "operator": c.operator, "value": c.value} for c in rule.conditions.all()
    ]
    texts = (
        []
        if template.in_library
        else [
            {"language": t.language, "subject": t.subject, "body": t.body}
            for t in template.translations.all()
        ]
    )
    return rule_values, conditions, texts
