"""The editors' live preview and the placeholders' values in a real answer."""

from __future__ import annotations

from datetime import timedelta
from email.utils import format_datetime

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from mailroom import conf
from mailroom.mime.parse import parse_message
from mailroom.models import AutoResponseRule, Case, EmailTemplate, OutboxMessage
from mailroom.pipeline.engine import process_message
from mailroom.rendering.render import PLACEHOLDERS
from mailroom.rendering.values import PLACEHOLDER_LIST
from tests.pipeline.helpers import MAIL, mailbox, stored

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.test", "pw"))
    return client


def test_every_placeholder_is_documented_beside_the_editor() -> None:
    assert tuple(p.name for p in PLACEHOLDER_LIST) == PLACEHOLDERS


def test_the_preview_renders_sample_values_into_cleaned_html(admin: Client) -> None:
    box = mailbox()
    response = admin.post(
        "/templates/preview/",
        {
            "type": "html",
            "subject": "Re: {{ subject }} [{{ mailbox_label }}]",
            "body": "<p onclick='x()'>Hi {{ sender_name }}</p><script>alert(1)</script>",
            "mailbox": str(box.pk),
        },
    )
    preview = response.json()
    assert preview["subject"] == f"Re: Printer prints blank pages [{box.label}]"
    assert preview["html"] == "<p>Hi Ann Weber</p>"
    assert "Hi Ann Weber" in preview["text"]


def test_the_preview_is_for_administrators_only() -> None:
    client = Client()
    client.force_login(User.objects.create_user("agent"))
    assert client.post("/templates/preview/", {"body": "x"}).status_code == 404


def test_an_answer_fills_in_the_case_its_link_and_the_date(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(conf, "BASE_URL", "https://mailroom.example.test")
    box = mailbox("case")
    template = EmailTemplate.objects.create(name="Ack", default_language="en")
    template.translations.create(
        language="en",
        subject="[Case {{ case_number }}] {{ subject }}",
        body="See {{ record_url }} (lead '{{ lead_number }}'), received {{ date }}.",
    )
    AutoResponseRule.objects.create(mailbox=box, name="Ack", template=template)
    sent = timezone.now() - timedelta(hours=1)
    date = f"Date: {format_datetime(sent)}\r\nSubject:".encode()
    message = stored(box, MAIL.replace(b"Subject:", date))
    process_message(message.pk)
    case = Case.objects.get()
    reply = parse_message(bytes(OutboxMessage.objects.get().raw))
    assert reply.subject == f"[Case {case.number}] Broken printer"
    local = timezone.localtime(sent)
    assert reply.text_body.strip() == (
        f"See https://mailroom.example.test/cases/{case.pk}/ (lead ''), "
        f"received {local.day} {local.strftime('%B %Y')}."
    )


def test_both_editors_warn_that_the_text_goes_to_the_public(admin: Client) -> None:
    # threats.md S17: an autoresponse reaches anyone who writes, people probing addresses too.
    box = mailbox()
    for path in ("/templates/new/", f"/mailboxes/{box.pk}/rules/new/"):
        page = admin.get(path).content.decode()
        assert 'id="public-text-warning"' in page, path
        assert "This text goes to the public." in page
