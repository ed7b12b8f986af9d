"""Rules in the configuration document: order, stop-after, case sensitivity, every operator,
inline responses; refused documents name the path of the bad value."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management.base import CommandError

from mailroom.models import AutoResponseRule, EmailTemplate, Mailbox, RuleCondition
from tests.conftest import run_cli

pytestmark = pytest.mark.django_db

LIBRARY = {
    "name": "ack",
    "type": "text",
    "default_language": "en",
    "translations": [{"language": "en", "subject": "Re: {{ subject }}", "body": "Thanks."}],
}
INLINE = {
    "type": "html",
    "default_language": "de",
    "translations": [
        {"language": "de", "subject": "AW: {{ subject }}", "body": "<p>Danke.</p>"},
        {"language": "en", "subject": "Re: {{ subject }}", "body": "<p>Thanks.</p>"},
    ],
}
RULES: list[dict[str, Any]] = [
    {
        "name": "Invoices",
        "active": True,
        "stop_after": True,
        "case_sensitive": True,
        "response": INLINE,
        "conditions": [
            {"field": "bcc", "operator": "not_empty", "value": ""},
            {"field": "to", "operator": "not_any_of", "value": ["a@x.test", "Doe, John"]},
            {"field": "subject", "operator": "regex", "value": r"^(invoice|bill)\b"},
        ],
    },
    {
        "name": "Everything",
        "active": False,
        "position": 1,
        "template": "ack",
        "conditions": [
            {"field": "from", "operator": "not_equals", "value": "noreply@x.test"},
            {"field": "cc", "operator": "is_empty", "value": ""},
            {"field": "body", "operator": "any_of", "value": ["yes"]},
        ],
    },
]


def _document(rules: list[dict[str, Any]] = RULES) -> dict[str, Any]:
    return {
        "format": "mailroom-config",
        "version": 1,
        "lead_sources": [],
        "sales_channels": [],
        "templates": [LIBRARY],
        "mailboxes": [
            {
                "label": "Support",
                "email": "support@example.test",
                "account_type": "other",
                "imap": {
                    "enabled": True,
                    "host": "imap.example.test",
                    "port": 993,
                    "encryption": "ssl",
                },
                "smtp": {
                    "enabled": True,
                    "host": "smtp.example.test",
                    "port": 465,
                    "encryption": "ssl",
                },
                "username": "support",
                "processor": {"kind": "none", "settings": {}},
                "history": {"mode": "none", "days": None, "convert": False},
                "folders": [],
                "access": {"users": [], "roles": []},
                "rules": rules,
            }
        ],
    }


def _import(tmp_path: Path, doc: dict[str, Any]) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(doc))
    run_cli("config", "import", str(path))


def _exported() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(run_cli("config", "export"))
    return doc


def test_it_round_trips_rules_with_inline_responses_idempotently(tmp_path: Path) -> None:
    _import(tmp_path, _document())
    first = _exported()
    _import(tmp_path, first)
    second = _exported()

    assert first == second == _document()
    # The inline response is the rule's own, not in the library.
    assert list(EmailTemplate.objects.filter(in_library=True).values_list("name", flat=True)) == [
        "ack"
    ]
    assert EmailTemplate.objects.count() == 2
    invoices = AutoResponseRule.objects.get(name="Invoices")
    assert not invoices.template.in_library
    assert invoices.template.translations.count() == 2
    assert RuleCondition.objects.get(rule=invoices, field="to").value == "a@x.test\nDoe, John"


def test_it_accepts_a_list_value_written_one_per_line(tmp_path: Path) -> None:
    rules = json.loads(json.dumps(RULES))
    rules[1]["conditions"][2]["value"] = "yes\nsure"
    _import(tmp_path, _document(rules))

    (_, everything) = _exported()["mailboxes"][0]["rules"]
    assert everything["conditions"][2]["value"] == ["yes", "sure"]


def test_it_switches_a_rule_between_a_library_template_and_an_inline_response(
    tmp_path: Path,
) -> None:
    _import(tmp_path, _document())
    rules = json.loads(json.dumps(RULES))
    rules[0].pop("response")
    rules[0]["template"] = "ack"
    rules[1].pop("template")
    rules[1]["response"] = {**INLINE, "translations": INLINE["translations"][:1]}

    _import(tmp_path, _document(rules))

    assert _exported()["mailboxes"][0]["rules"] == rules
    # The replaced inline response is gone; the new one belongs to "Everything".
    inline = EmailTemplate.objects.get(in_library=False)
    assert inline.rules.get().name == "Everything"
    assert inline.translations.count() == 1


def test_a_rule_imported_without_a_setting_gets_its_default(tmp_path: Path) -> None:
    _import(tmp_path, _document())
    partial = {
        "format": "mailroom-config",
        "version": 1,
        "mailboxes": [
            {
                "label": "Support",
                "email": "support@example.test",
                "rules": [
                    {"name": "Everything", "template": "ack"},
                    {"name": "Added", "template": "ack"},
                ],
            }
        ],
    }
    _import(tmp_path, partial)

    assert list(
        Mailbox.objects.get().rules.order_by("position", "name").values_list("name", "position")
    ) == [("Added", 0), ("Everything", 0), ("Invoices", 0)]
    everything = AutoResponseRule.objects.get(name="Everything")
    assert everything.active
    assert not everything.stop_after
    # A rule the document does not name is left as it was.
    assert AutoResponseRule.objects.get(name="Invoices").case_sensitive


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda r: r[0]["conditions"][2].update(value=r"(a)\1"),
            r"mailboxes\[0\]\.rules\[0\]\.conditions\[2\]\.value: not a valid RE2 pattern",
        ),
        (
            lambda r: r[0]["conditions"][0].update(operator="matches"),
            r"rules\[0\]\.conditions\[0\]\.operator: unknown operator",
        ),
        (
            lambda r: r[0]["conditions"][0].update(field="date"),
            r"rules\[0\]\.conditions\[0\]\.field: unknown field",
        ),
        (
            lambda r: r[0]["conditions"][0].update(value="x"),
            r"rules\[0\]\.conditions\[0\]\.value: this operator takes no value",
        ),
        (
            lambda r: r[0]["conditions"][1].update(value=["ok", 3]),
            r"rules\[0\]\.conditions\[1\]\.value: must be a list of texts",
        ),
        (
            lambda r: r[1]["conditions"][0].update(value=""),
            r"rules\[1\]\.conditions\[0\]\.value: a value is required",
        ),
        (
            lambda r: r[1]["conditions"][0].update(value=["a"]),
            r"rules\[1\]\.conditions\[0\]\.value: must be text",
        ),
        (lambda r: r[1].update(position=-1), r"rules\[1\]\.position: must be a whole number"),
        (lambda r: r[0].update(stop_after="yes"), r"rules\[0\]\.stop_after: must be true/false"),
        (
            lambda r: r[0].update(case_sensitive=1),
            r"rules\[0\]\.case_sensitive: must be true/false",
        ),
        (lambda r: r[1].update(template="missing"), r"rules\[1\]\.template: unknown template"),
        (
            lambda r: r[1].update(response=INLINE),
            r"mailboxes\[0\]\.rules\[1\]: needs either a template .* or a response",
        ),
        (
            lambda r: r[0].pop("response"),
            r"mailboxes\[0\]\.rules\[0\]: needs either a template .* or a response",
        ),
        (
            lambda r: r[0]["response"].update(translations=[]),
            r"rules\[0\]\.response\.translations: at least one is required",
        ),
        (
            lambda r: r[0]["response"].update(type="pdf"),
            r"rules\[0\]\.response\.type: text or html",
        ),
        (
            lambda r: r[0]["response"]["translations"][1].update(language=""),
            r"rules\[0\]\.response\.translations\[1\]\.language",
        ),
    ],
)
def test_it_refuses_a_bad_rule_and_names_the_path_of_the_bad_value(
    tmp_path: Path, change: Any, message: str
) -> None:
    rules = json.loads(json.dumps(RULES))
    change(rules)

    with pytest.raises(CommandError, match=message):
        _import(tmp_path, _document(rules))
    assert not Mailbox.objects.exists()
    assert not EmailTemplate.objects.exists()


def test_imported_html_is_sanitised_as_the_editor_sanitises_it(tmp_path: Path) -> None:
    rules = json.loads(json.dumps(RULES))
    rules[0]["response"]["translations"][0]["body"] = (
        '<p onclick="x()">Danke<script>x()</script></p>'
    )
    doc = _document(rules)
    doc["templates"] = [
        {
            **LIBRARY,
            "type": "html",
            "translations": [
                {"language": "en", "subject": "Re", "body": "<b>Hi</b><script>x</script>"}
            ],
        }
    ]
    _import(tmp_path, doc)

    inline = EmailTemplate.objects.get(in_library=False)
    assert inline.translations.get(language="de").body == "<p>Danke</p>"
    library = EmailTemplate.objects.get(in_library=True)
    assert library.translations.get().body == "<b>Hi</b>"
