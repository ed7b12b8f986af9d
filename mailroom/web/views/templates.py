"""Screens: the template library (administrators; anyone else finds no such page)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from mailroom.access.policy import is_admin
from mailroom.models import EmailTemplate, Mailbox, TemplateType
from mailroom.rendering.render import Translation
from mailroom.rendering.render import render as render_response
from mailroom.rendering.sanitize import clean_template_html
from mailroom.rendering.values import PLACEHOLDER_LIST, sample_values
from mailroom.rules.actions import ResponseText
from mailroom.rules.templates import save_library_template, template_users
from mailroom.web.rule_forms import (
    LANGUAGE_HELP,
    TranslationFormSet,
    configured_languages,
    kept,
    language_code,
    language_rows,
)


class TemplateForm(forms.Form):
    """A library template's name, format and default language."""

    name = forms.CharField(max_length=100)
    type = forms.ChoiceField(choices=TemplateType.choices, label="Format")
    default_language = forms.CharField(max_length=10, initial="en", help_text=LANGUAGE_HELP)

    def __init__(self, *args: Any, template: EmailTemplate | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.template = template

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"].strip()
        others = EmailTemplate.objects.filter(in_library=True, name=name)
        if self.template is not None:
            others = others.exclude(pk=self.template.pk)
        if others.exists():
            raise forms.ValidationError("A template with this name exists already.")
        return name

    def clean_default_language(self) -> str:
        return language_code(self.cleaned_data["default_language"])


def _admin_only(request: HttpRequest) -> None:
    if not is_admin(request.user):
        raise Http404("no such page")


def _template(template_id: int | None) -> EmailTemplate | None:
    if template_id is None:
        return None
    found = EmailTemplate.objects.filter(pk=template_id, in_library=True).first()
    if found is None:
        raise Http404("no such template")
    return found


@login_required
def template_list(request: HttpRequest) -> HttpResponse:
    _admin_only(request)
    templates = (
        EmailTemplate.objects.filter(in_library=True)
        .annotate(rule_count=Count("rules"))
        .prefetch_related("translations")
        .order_by("name")
    )
    return render(
        request, "mailroom/template_list.html", {"templates": templates, "section": "templates"}
    )


@login_required
@require_http_methods(["GET", "POST"])
def template_form(request: HttpRequest, template_id: int | None = None) -> HttpResponse:
    _admin_only(request)
    template = _template(template_id)
    if request.method == "GET":
        initial: dict[str, Any] = {
            "type": TemplateType.TEXT,
            "default_language": configured_languages()[0],
        }
        texts: list[dict[str, Any]] = []
        if template is not None:
            initial = {
                "name": template.name,
                "type": template.type,
                "default_language": template.default_language,
            }
            texts = [
                {"language": t.language, "subject": t.subject, "body": t.body}
                for t in template.translations.all()
            ]
        form = TemplateForm(initial=initial, template=template)
        rows = TranslationFormSet(initial=language_rows(texts), prefix="texts")
    else:
        data: QueryDict = request.POST
        if "add_texts" in data:
            data = data.copy()
            data["texts-TOTAL_FORMS"] = str(int(data.get("texts-TOTAL_FORMS") or 0) + 1)
        form = TemplateForm(data, template=template)
        rows = TranslationFormSet(data, prefix="texts")
        if all([form.is_valid(), rows.is_valid()]) and "add_texts" not in data:
            texts_kept = kept(rows)
            languages = [t["language"] for t in texts_kept]
            if not texts_kept:
                form.add_error(None, "Write the template in at least one language.")
            elif form.cleaned_data["default_language"] not in languages:
                form.add_error(
                    "default_language",
                    f"Write a text in {form.cleaned_data['default_language']}, or choose "
                    "another default language.",
                )
            else:
                saved = save_library_template(
                    template,
                    name=form.cleaned_data["name"],
                    type=form.cleaned_data["type"],
                    default_language=form.cleaned_data["default_language"],
                    texts=[
                        ResponseText(t["language"], t["subject"], t["body"]) for t in texts_kept
                    ],
                )
                messages.success(request, f"Template “{saved.name}” saved.")
                return redirect("template-list")
    return render(
        request,
        "mailroom/template_form.html",
        {
            "form": form,
            "texts": rows,
            "template": template,
            "users": template_users(template) if template else [],
            "placeholders": PLACEHOLDER_LIST,
            "section": "templates",
        },
    )


@login_required
@require_POST
def template_delete(request: HttpRequest, template_id: int) -> HttpResponse:
    _admin_only(request)
    template = _template(template_id)
    assert template is not None
    users = template_users(template)
    if users:
        messages.error(
            request,
            f"“{template.name}” is not deleted: {'; '.join(users)} send it. Give them another "
            "response first.",
        )
        return redirect("template-edit", template_id=template.pk)
    name = template.name
    template.delete()
    messages.success(request, f"Template “{name}” deleted.")
    return redirect("template-list")


@login_required
@require_POST
def template_preview(request: HttpRequest) -> JsonResponse:
    """A response text rendered with sample values, as the editors show it while one types
    (HTML cleaned as it would be when saved)."""
    _admin_only(request)
    mailbox_id = request.POST.get("mailbox") or ""
    mailbox = Mailbox.objects.filter(pk=int(mailbox_id)).first() if mailbox_id.isdigit() else None
    is_html = request.POST.get("type") == TemplateType.HTML
    body = request.POST.get("body", "")[:100_000]
    if is_html:
        body = clean_template_html(body)
    rendered = render_response(
        [Translation("en", request.POST.get("subject", "")[:500], body)],
        is_html=is_html,
        wanted_languages=["en"],
        default_language="en",
        values=sample_values(mailbox),
    )
    return JsonResponse(
        {"subject": rendered.subject, "text": rendered.text, "html": rendered.html or ""}
    )
