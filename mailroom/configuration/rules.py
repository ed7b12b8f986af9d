"""Autoresponse rules and response templates in the configuration document.

A rule sends either a library template, named by ``"template"``, or its own inline response,
given whole by ``"response"`` (type, default language, translations). ``any_of`` and
``not_any_of`` values are lists; every other value is a string. ``position``,
``stop_after`` and ``case_sensitive`` are left out of an export at their defaults (0, false,
false), and a rule imported without one of them (or ``active``, default true) gets the
default, so importing an export reproduces it. Rules in the same position are evaluated by
name.
"""

from __future__ import annotations

from typing import Any

from mailroom.configuration.errors import require
from mailroom.models import (
    AutoResponseRule,
    ConditionField,
    ConditionOperator,
    EmailTemplate,
    EmailTemplateTranslation,
    Mailbox,
    TemplateType,
)
from mailroom.rules.actions import ResponseText
from mailroom.rules.operators import condition_errors, list_items
from mailroom.rules.save import InlineResponse, RuleInput, save_rule
from mailroom.rules.templates import stored_texts

_LIST_OPERATORS = ("any_of", "not_any_of")


def template_document(template: EmailTemplate, *, inline: bool = False) -> dict[str, Any]:
    """A template as plain data; an inline response has no name of its own."""
    doc: dict[str, Any] = {} if inline else {"name": template.name}
    doc["type"] = template.type
    doc["default_language"] = template.default_language
    doc["translations"] = [
        {"language": tr.language, "subject": tr.subject, "body": tr.body}
        for tr in template.translations.all()
    ]
    return doc


def rule_document(rule: AutoResponseRule) -> dict[str, Any]:
    """A rule as plain data."""
    doc: dict[str, Any] = {"name": rule.name, "active": rule.active}
    if rule.position:
        doc["position"] = rule.position
    if rule.stop_after:
        doc["stop_after"] = True
    if rule.case_sensitive:
        doc["case_sensitive"] = True
    if rule.answer_unaddressed:
        doc["answer_unaddressed"] = True
    if rule.template.in_library:
        doc["template"] = rule.template.name
    else:
        doc["response"] = template_document(rule.template, inline=True)
    doc["conditions"] = [
        {
            "field": c.field,
            "operator": c.operator,
            "value": list_items(c.value) if c.operator in _LIST_OPERATORS else c.value,
        }
        for c in rule.conditions.all()
    ]
    return doc


def _is_text(value: object, longest: int) -> bool:
    return isinstance(value, str) and len(value) <= longest and "\0" not in value


def validate_template(t: Any, where: str, *, inline: bool = False) -> None:
    """Check a library template (or, ``inline``, a rule's response) of the document."""
    require(isinstance(t, dict), where, "must be an object")
    if not inline:
        name = t.get("name")
        require(
            bool(name) and _is_text(name, 100),
            f"{where}.name",
            "is required: a name of 1 to 100 characters",
        )
    require(t.get("type", "text") in TemplateType.values, f"{where}.type", "text or html")
    require(
        _is_text(t.get("default_language", "en"), 10) and bool(t.get("default_language", "en")),
        f"{where}.default_language",
        "must be a language code",
    )
    translations = t.get("translations", [])
    require(isinstance(translations, list), f"{where}.translations", "must be a list")
    if inline:
        require(bool(translations), f"{where}.translations", "at least one is required")
    for i, tr in enumerate(translations):
        twhere = f"{where}.translations[{i}]"
        require(isinstance(tr, dict), twhere, "must be an object")
        language = tr.get("language")
        require(bool(language) and _is_text(language, 10), f"{twhere}.language", "a language code")
        require(
            _is_text(tr.get("subject", ""), 500),
            f"{twhere}.subject",
            "must be text of at most 500 characters",
        )
        require(_is_text(tr.get("body", ""), 1_000_000), f"{twhere}.body", "must be text")


def _value_text(c: dict[str, Any], where: str) -> str:
    value = c.get("value", "")
    if c.get("operator") in _LIST_OPERATORS and isinstance(value, list):
        require(all(isinstance(v, str) for v in value), where, "must be a list of texts")
        return "\n".join(value)
    require(isinstance(value, str), where, "must be text")
    return str(value)


def validate_rule(rule: Any, where: str, templates: set[str]) -> None:
    """Check one rule of the document; ``templates`` are the library names it may pick."""
    require(isinstance(rule, dict), where, "must be an object")
    name = rule.get("name")
    require(
        bool(name) and _is_text(name, 100),
        f"{where}.name",
        "is required: a name of 1 to 100 characters",
    )
    for flag in ("active", "stop_after", "case_sensitive", "answer_unaddressed"):
        require(isinstance(rule.get(flag, False), bool), f"{where}.{flag}", "must be true/false")
    if "position" in rule:
        position = rule["position"]
        require(
            isinstance(position, int) and not isinstance(position, bool) and position >= 0,
            f"{where}.position",
            "must be a whole number from 0",
        )
    require(
        ("template" in rule) != ("response" in rule),
        where,
        "needs either a template (a library name) or a response (an inline template)",
    )
    if "template" in rule:
        require(rule["template"] in templates, f"{where}.template", "unknown template")
    else:
        validate_template(rule["response"], f"{where}.response", inline=True)
    conditions = rule.get("conditions", [])
    require(isinstance(conditions, list), f"{where}.conditions", "must be a list")
    for k, c in enumerate(conditions):
        cwhere = f"{where}.conditions[{k}]"
        require(isinstance(c, dict), cwhere, "must be an object")
        require(c.get("field") in ConditionField.values, f"{cwhere}.field", "unknown field")
        require(
            c.get("operator") in ConditionOperator.values, f"{cwhere}.operator", "unknown operator"
        )
        value = _value_text(c, f"{cwhere}.value")
        error = condition_errors(c["field"], c["operator"], value)
        require(error is None, f"{cwhere}.value", error or "")


def _texts(t: dict[str, Any]) -> list[ResponseText]:
    return [
        ResponseText(tr["language"], tr.get("subject", ""), tr.get("body", ""))
        for tr in t.get("translations", [])
    ]


def import_template(t: dict[str, Any]) -> None:
    """Create or update the library template named ``t["name"]`` (validated before): its
    translations are matched by language, and those the document leaves out are kept. HTML is
    sanitised as the template editor does."""
    template, _ = EmailTemplate.objects.update_or_create(
        name=t["name"],
        in_library=True,
        defaults={
            "type": t.get("type", "text"),
            "default_language": t.get("default_language", "en"),
        },
    )
    for text in stored_texts(template.type, _texts(t)):
        EmailTemplateTranslation.objects.update_or_create(
            template=template,
            language=text.language,
            defaults={"subject": text.subject, "body": text.body},
        )


def import_rule(mailbox: Mailbox, doc: dict[str, Any]) -> None:
    """Create or update the rule named ``doc["name"]`` of ``mailbox`` (validated before), as
    the rule editor saves it: an inline response replaces its texts whole, HTML sanitised."""
    response = doc.get("response")
    save_rule(
        mailbox,
        mailbox.rules.select_related("template").filter(name=doc["name"]).first(),
        RuleInput(
            name=doc["name"],
            active=doc.get("active", True),
            position=doc.get("position", 0),
            stop_after=doc.get("stop_after", False),
            case_sensitive=doc.get("case_sensitive", False),
            answer_unaddressed=doc.get("answer_unaddressed", False),
            conditions=[
                (c["field"], c["operator"], _value_text(c, "")) for c in doc.get("conditions", [])
            ],
            template=(
                EmailTemplate.objects.get(in_library=True, name=doc["template"])
                if "template" in doc
                else None
            ),
            inline=(
                InlineResponse(
                    type=response.get("type", TemplateType.TEXT),
                    default_language=response.get("default_language", "en"),
                    texts=_texts(response),
                )
                if response is not None
                else None
            ),
        ),
    )
