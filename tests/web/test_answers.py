"""Every email shows whether it was answered (with a link to the answer), and why not; the
answers show in the conversation of a Case; nobody without access sees them."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from mailroom.models import (
    AutoResponseRule,
    Case,
    EmailTemplate,
    Mailbox,
    OutboxMessage,
    OutboxState,
)
from mailroom.pipeline.engine import process_message
from tests.pipeline.helpers import MAIL, mailbox, stored

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.test", "pw"))
    return client


@pytest.fixture
def box() -> Mailbox:
    """Makes Cases and answers every mail, in English or German."""
    box = mailbox("case")
    template = EmailTemplate.objects.create(name="Ack", default_language="en")
    template.translations.create(
        language="en", subject="Re: {{ subject }}", body="Thanks, {{ sender_name }}."
    )
    template.translations.create(
        language="de", subject="AW: {{ subject }}", body="Danke, {{ sender_name }}."
    )
    AutoResponseRule.objects.create(mailbox=box, name="Acknowledge", template=template)
    return box


def test_an_answered_email_links_its_answer_and_the_case_shows_it(
    admin: Client, box: Mailbox
) -> None:
    message = stored(box, MAIL.replace(b"Subject:", b"Content-Language: de\r\nSubject:"))
    process_message(message.pk)
    answer = OutboxMessage.objects.get()
    page = admin.get(f"/messages/{message.pk}/").content.decode()
    assert f'href="/answers/{answer.pk}/"' in page
    assert "AW: Broken printer" in page and "Waiting to be sent" in page
    assert "(rule “Acknowledge”)" in page

    detail = admin.get(f"/answers/{answer.pk}/").content.decode()
    assert "Danke, Alice Martin." in detail and "alice@customer.test" in detail
    assert "<dt>Language</dt><dd>de</dd>" in detail

    OutboxMessage.objects.filter(pk=answer.pk).update(
        state=OutboxState.FAILED, last_error="550 5.1.1 no such user"
    )
    case = Case.objects.get()
    page = admin.get(f"/cases/{case.pk}/").content.decode()
    assert "↳ answered" in page and "Refused" in page and "550 5.1.1 no such user" in page


def test_an_email_not_answered_says_why(admin: Client, box: Mailbox) -> None:
    raw = MAIL.replace(b"Subject:", b"Auto-Submitted: auto-replied\r\nSubject:")
    message = stored(box, raw)
    process_message(message.pk)
    page = admin.get(f"/messages/{message.pk}/").content.decode()
    assert 'id="no-answer"' in page
    assert "Not answered: reply suppressed: automatic mail" in page


def test_an_email_not_processed_yet_says_so(admin: Client, box: Mailbox) -> None:
    message = stored(box)
    page = admin.get(f"/messages/{message.pk}/").content.decode()
    assert "Not decided yet: the message is not processed." in page


def test_answers_are_hidden_from_those_who_may_not_read_the_mailbox(box: Mailbox) -> None:
    message = stored(box)
    process_message(message.pk)
    answer = OutboxMessage.objects.get()
    client = Client()
    client.force_login(User.objects.create_user("stranger"))
    assert client.get(f"/answers/{answer.pk}/").status_code == 404
    assert client.get("/answers/999999/").status_code == 404
