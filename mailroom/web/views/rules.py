"""Screens: a mailbox's autoresponse rules, added, edited and deleted in the product (for
those who may change the mailbox; anyone else finds no such page)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from mailroom.access.policy import access_mailbox
from mailroom.models import AutoResponseRule, Mailbox
from mailroom.rendering.values import PLACEHOLDER_LIST
from mailroom.rules.dry_run import DRY_RUN_SIZE, DraftRule, dry_run
from mailroom.rules.evaluate import ConditionSpec
from mailroom.rules.save import RuleInput, next_position, save_rule
from mailroom.web.rule_forms import (
    BCC_HELP,
    ConditionFormSet,
    RuleForm,
    TranslationFormSet,
    check_texts,
    configured_languages,
    initial_for,
    language_rows,
    rule_input,
)


def _rule(mailbox: Mailbox, rule_id: int | None) -> AutoResponseRule | None:
    if rule_id is None:
        return None
    rule = mailbox.rules.select_related("template").filter(pk=rule_id).first()
    if rule is None:
        raise Http404("no such rule")
    return rule


def _with_extra_row(data: QueryDict, prefix: str) -> QueryDict:
    """The posted data with one more empty row in formset ``prefix`` ("+ Add" without
    JavaScript)."""
    data = data.copy()
    key = f"{prefix}-TOTAL_FORMS"
    data[key] = str(int(data.get(key) or 0) + 1)
    return data


def _page(request: HttpRequest, context: dict[str, Any]) -> HttpResponse:
    context.update(
        {
            "placeholders": PLACEHOLDER_LIST,
            "bcc_help": BCC_HELP,
            "section": "mailboxes",
        }
    )
    return render(request, "mailroom/rule_form.html", context)


def _draft(data: RuleInput, rule: AutoResponseRule | None) -> DraftRule:
    """The rule being edited, as the dry run reads it."""
    if data.inline is not None:
        languages = [t.language for t in data.inline.texts]
        default = data.inline.default_language
    else:
        assert data.template is not None
        languages = [t.language for t in data.template.translations.all()]
        default = data.template.default_language
    return DraftRule(
        conditions=[ConditionSpec(f, op, value) for f, op, value in data.conditions],
        case_sensitive=data.case_sensitive,
        languages=languages,
        default_language=default,
        rule=rule,
    )


@login_required
@require_http_methods(["GET", "POST"])
def rule_form(request: HttpRequest, mailbox_id: int, rule_id: int | None = None) -> HttpResponse:
    mailbox = access_mailbox(request.user, mailbox_id, manage=True)
    rule = _rule(mailbox, rule_id)
    if request.method == "GET":
        if rule is not None:
            values, conditions, texts = initial_for(rule)
        else:
            values = {"position": next_position(mailbox), "active": True}
            conditions = []
            texts = []
            values["default_language"] = configured_languages()[0]
        form = RuleForm(initial=values, mailbox=mailbox, rule=rule)
        condition_rows = ConditionFormSet(initial=conditions, prefix="conditions")
        if rule is None:
            # One row to fill in; saved untouched, it is no condition (the rule answers every
            # email), rather than an error about a value nobody meant to give.
            condition_rows.extra = 1
        text_rows = TranslationFormSet(initial=language_rows(texts), prefix="texts")
        return _page(
            request,
            {
                "form": form,
                "conditions": condition_rows,
                "texts": text_rows,
                "mailbox": mailbox,
                "rule": rule,
            },
        )
    data: QueryDict = request.POST
    for prefix in ("conditions", "texts"):
        if f"add_{prefix}" in data:
            data = _with_extra_row(data, prefix)
    form = RuleForm(data, mailbox=mailbox, rule=rule)
    condition_rows = ConditionFormSet(data, prefix="conditions")
    text_rows = TranslationFormSet(data, prefix="texts")
    context = {
        "form": form,
        "conditions": condition_rows,
        "texts": text_rows,
        "mailbox": mailbox,
        "rule": rule,
    }
    adding_row = data is not request.POST
    # Every part is validated, so that all errors show at once.
    checks = [form.is_valid(), condition_rows.is_valid()]
    if data.get("response", "inline") == "inline":
        checks.append(text_rows.is_valid())
    if all(checks):
        check_texts(form, text_rows)
    if adding_row or not all(checks) or form.errors:
        return _page(request, context)
    data_in = rule_input(form, condition_rows, text_rows)
    if "dry_run" in data:
        context["plan"] = dry_run(mailbox, _draft(data_in, rule))
        context["plan_size"] = DRY_RUN_SIZE
        return _page(request, context)
    saved = save_rule(mailbox, rule, data_in)
    messages.success(request, f"Rule “{saved.name}” saved.")
    return redirect("mailbox-detail", mailbox_id=mailbox.pk)


@login_required
@require_POST
def rule_delete(request: HttpRequest, mailbox_id: int, rule_id: int) -> HttpResponse:
    mailbox = access_mailbox(request.user, mailbox_id, manage=True)
    rule = _rule(mailbox, rule_id)
    assert rule is not None
    name = rule.name
    template = rule.template
    rule.delete()
    if not template.in_library:
        template.delete()  # the rule's own response goes with it
    messages.success(request, f"Rule “{name}” deleted.")
    return redirect("mailbox-detail", mailbox_id=mailbox.pk)
