"""The rule editor: a mailbox's autoresponse rules added, edited and deleted in the product,
with errors at their row, and the rules listed on the mailbox page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from mailroom import conf
from mailroom.mailboxes.actions import set_access
from mailroom.models import AutoResponseRule, EmailTemplate, Mailbox, OutboxMessage
from mailroom.pipeline.engine import process_message
from tests.pipeline.helpers import mailbox as make_mailbox
from tests.pipeline.helpers import stored

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.test", "pw"))
    return client


@pytest.fixture
def box() -> Mailbox:
    return make_mailbox()


def _post(
    conditions: list[tuple[str, str, str]] | None = None,
    texts: list[tuple[str, str, str]] | None = None,
    **rule: Any,
) -> dict[str, Any]:
    """The editor's form as a browser posts it."""
    conditions = [] if conditions is None else conditions
    texts = [("en", "Re: {{ subject }}", "Thanks, {{ sender_name }}.")] if texts is None else texts
    data: dict[str, Any] = {
        "name": "Acknowledge",
        "active": "on",
        "position": "0",
        "response": "inline",
        "type": "text",
        "default_language": "en",
        "conditions-TOTAL_FORMS": str(len(conditions)),
        "conditions-INITIAL_FORMS": "0",
        "texts-TOTAL_FORMS": str(len(texts)),
        "texts-INITIAL_FORMS": "0",
        "save": "1",
    }
    for i, (field, operator, value) in enumerate(conditions):
        data |= {
            f"conditions-{i}-field": field,
            f"conditions-{i}-operator": operator,
            f"conditions-{i}-value": value,
        }
    for i, (language, subject, body) in enumerate(texts):
        data |= {
            f"texts-{i}-language": language,
            f"texts-{i}-subject": subject,
            f"texts-{i}-body": body,
        }
    return data | rule


def test_an_administrator_adds_a_rule_with_conditions_and_a_translated_response(
    admin: Client, box: Mailbox
) -> None:
    page = admin.get(f"/mailboxes/{box.pk}/rules/new/").content.decode()
    assert "{{ sender_name }}" in page and 'id="add-condition"' in page
    response = admin.post(
        f"/mailboxes/{box.pk}/rules/new/",
        _post(
            conditions=[
                ("subject", "contains", "printer"),
                ("from", "not_any_of", "ceo@example.test\nboard@example.test"),
                ("cc", "is_empty", ""),
            ],
            texts=[
                ("en", "Re: {{ subject }}", "Thanks, {{ sender_name }}."),
                ("de", "AW: {{ subject }}", "Danke, {{ sender_name }}."),
            ],
            stop_after="on",
        ),
    )
    assert response.status_code == 302, response.content.decode()
    rule = AutoResponseRule.objects.get()
    assert (rule.name, rule.active, rule.stop_after, rule.case_sensitive) == (
        "Acknowledge",
        True,
        True,
        False,
    )
    assert [(c.field, c.operator, c.value) for c in rule.conditions.all()] == [
        ("subject", "contains", "printer"),
        ("from", "not_any_of", "ceo@example.test\nboard@example.test"),
        ("cc", "is_empty", ""),
    ]
    assert not rule.template.in_library
    assert sorted(t.language for t in rule.template.translations.all()) == ["de", "en"]

    listing = admin.get(f"/mailboxes/{box.pk}/").content.decode()
    assert "Subject contains “printer” <strong>and</strong> From is not any of" in listing
    assert "its own response" in listing and "(de, en)" in listing


def test_errors_show_at_their_row_and_nothing_is_saved(admin: Client, box: Mailbox) -> None:
    response = admin.post(
        f"/mailboxes/{box.pk}/rules/new/",
        _post(conditions=[("subject", "contains", "ok"), ("body", "regex", "(unclosed")]),
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="error-conditions-1-value"' in page
    assert 'id="error-conditions-0-value"' not in page
    assert not AutoResponseRule.objects.exists()


def test_a_response_needs_a_text_in_its_default_language(admin: Client, box: Mailbox) -> None:
    response = admin.post(
        f"/mailboxes/{box.pk}/rules/new/",
        _post(texts=[("de", "AW", "Danke.")]),
    )
    assert "Write a text in en, or choose another default language." in response.content.decode()
    assert not AutoResponseRule.objects.exists()


def test_add_without_javascript_returns_the_page_with_one_more_row(
    admin: Client, box: Mailbox
) -> None:
    data = _post(conditions=[("subject", "contains", "a")])
    del data["save"]
    data["add_conditions"] = "1"
    page = admin.post(f"/mailboxes/{box.pk}/rules/new/", data).content.decode()
    assert 'name="conditions-1-field"' in page
    assert not AutoResponseRule.objects.exists()


def test_editing_removes_a_condition_and_saves_the_response_as_a_template(
    admin: Client, box: Mailbox
) -> None:
    admin.post(
        f"/mailboxes/{box.pk}/rules/new/",
        _post(conditions=[("subject", "contains", "a"), ("subject", "contains", "b")]),
    )
    rule = AutoResponseRule.objects.get()
    page = admin.get(f"/mailboxes/{box.pk}/rules/{rule.pk}/").content.decode()
    assert "a</textarea>" in page and "b</textarea>" in page
    data = _post(
        conditions=[("subject", "contains", "a"), ("subject", "contains", "b")],
        save_as_template="on",
        library_name="Thanks",
    )
    data["conditions-1-DELETE"] = "on"
    response = admin.post(f"/mailboxes/{box.pk}/rules/{rule.pk}/", data)
    assert response.status_code == 302, response.content.decode()
    rule.refresh_from_db()
    assert [c.value for c in rule.conditions.all()] == ["a"]
    assert rule.template.in_library and rule.template.name == "Thanks"
    # The library template is offered to other rules.
    page = admin.get(f"/mailboxes/{box.pk}/rules/new/").content.decode()
    assert '<option value="Thanks">Thanks</option>' in page


def test_a_rule_picking_a_library_template_and_deleting_it(admin: Client, box: Mailbox) -> None:
    library = EmailTemplate.objects.create(name="Ack", default_language="en")
    library.translations.create(language="en", subject="Re", body="Thanks")
    response = admin.post(
        f"/mailboxes/{box.pk}/rules/new/",
        _post(response="template", template="Ack", texts=[]),
    )
    assert response.status_code == 302, response.content.decode()
    rule = AutoResponseRule.objects.get()
    assert rule.template == library
    admin.post(f"/mailboxes/{box.pk}/rules/{rule.pk}/delete/")
    assert not AutoResponseRule.objects.exists()
    assert EmailTemplate.objects.filter(pk=library.pk).exists()  # the library keeps it


def test_a_rule_saved_in_the_editor_answers_mail(admin: Client, box: Mailbox) -> None:
    admin.post(
        f"/mailboxes/{box.pk}/rules/new/",
        _post(conditions=[("subject", "contains", "printer")]),
    )
    message = stored(box)  # "Broken printer" from Alice
    process_message(message.pk)
    reply = OutboxMessage.objects.get()
    assert reply.to_email == "alice@customer.test"


def test_people_who_may_not_change_the_mailbox_find_no_editor(box: Mailbox) -> None:
    reader = User.objects.create_user("reader")
    team = Group.objects.create(name="Support")
    reader.groups.add(team)
    set_access(box, user_ids=[], group_ids=[team.pk])
    client = Client()
    client.force_login(reader)
    assert client.get(f"/mailboxes/{box.pk}/rules/new/").status_code == 404
    assert client.post(f"/mailboxes/{box.pk}/rules/new/", _post()).status_code == 404
    page = client.get(f"/mailboxes/{box.pk}/").content.decode()
    assert 'id="add-rule"' not in page
    assert not AutoResponseRule.objects.exists()


def test_an_html_response_written_in_the_rule_is_cleaned_when_saved(
    admin: Client, box: Mailbox
) -> None:
    admin.post(
        f"/mailboxes/{box.pk}/rules/new/",
        _post(
            type="html",
            texts=[
                ("en", "Re", '<p onmouseover="x()">Hi {{ sender_name }}<script>y()</script></p>')
            ],
        ),
    )
    body = AutoResponseRule.objects.get().template.translations.get().body
    assert body == "<p>Hi {{ sender_name }}</p>"


def test_each_configured_language_has_a_text_row_and_an_empty_one_is_no_text(
    admin: Client, box: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conf, "LANGUAGES", ["de", "en", "fr"])
    page = admin.get(f"/mailboxes/{box.pk}/rules/new/").content.decode()
    for i, language in enumerate(["de", "en", "fr"]):
        assert f'name="texts-{i}-language" value="{language}"' in page
    assert 'name="default_language" value="de"' in page
    response = admin.post(
        f"/mailboxes/{box.pk}/rules/new/",
        _post(
            texts=[("de", "AW", "Danke"), ("en", "Re", "Thanks"), ("fr", "", "")],
            default_language="de",
        ),
    )
    assert response.status_code == 302, response.content.decode()
    texts = AutoResponseRule.objects.get().template.translations.all()
    assert sorted(t.language for t in texts) == ["de", "en"]


def test_a_half_written_language_is_refused_at_its_field(admin: Client, box: Mailbox) -> None:
    response = admin.post(
        f"/mailboxes/{box.pk}/rules/new/",
        _post(texts=[("en", "Re", "Thanks"), ("de", "AW", "")]),
    )
    assert "Write the text, or empty the subject too." in response.content.decode()
    assert not AutoResponseRule.objects.exists()


def test_the_unaddressed_switch_and_the_aliases_are_saved(admin: Client, box: Mailbox) -> None:
    admin.post(f"/mailboxes/{box.pk}/rules/new/", _post(answer_unaddressed="on"))
    assert AutoResponseRule.objects.get().answer_unaddressed is True
    page = admin.get(f"/mailboxes/{box.pk}/rules/{AutoResponseRule.objects.get().pk}/")
    assert re.search(r'<input[^>]*name="answer_unaddressed"[^>]*checked', page.content.decode())


def test_the_starting_condition_row_left_untouched_is_no_condition(
    admin: Client, box: Mailbox
) -> None:
    # A new rule's page offers one row to fill in, as an extra row of the formset.
    page = admin.get(f"/mailboxes/{box.pk}/rules/new/").content.decode()
    assert 'name="conditions-TOTAL_FORMS" value="1"' in page
    assert 'name="conditions-INITIAL_FORMS" value="0"' in page
    # Saved as it came, the rule answers every email; a row someone changed must be complete.
    untouched = _post(conditions=[("subject", "contains", "")])
    response = admin.post(f"/mailboxes/{box.pk}/rules/new/", untouched)
    assert response.status_code == 302, response.content.decode()
    assert not AutoResponseRule.objects.get().conditions.exists()
    half = _post(conditions=[("from", "contains", "")], name="Half done")
    page = admin.post(f"/mailboxes/{box.pk}/rules/new/", half).content.decode()
    assert "A value is required." in page
    assert 'class="condition-row invalid"' in page
    assert AutoResponseRule.objects.count() == 1
