"""The mailbox form's "Sent folder": saved with the mailbox, refused with a line break, kept
by the callers that do not set it (the CLI, configuration imports)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from mailroom.mailboxes.actions import MailboxInput, save_mailbox
from mailroom.models import Mailbox
from tests.web.test_mailbox_form import VALID

pytestmark = pytest.mark.django_db


@pytest.fixture
def client() -> Client:
    client = Client()
    client.force_login(User.objects.create_user("alice", password="x", is_staff=True))
    return client


def test_the_sent_folder_is_set_in_the_mailbox_form(client: Client) -> None:
    assert client.post("/mailboxes/new/", {**VALID, "sent_folder": "Sent Items"}).status_code == 302
    mailbox = Mailbox.objects.get()
    assert mailbox.sent_folder == "Sent Items"
    page = client.get(f"/mailboxes/{mailbox.pk}/edit/").content.decode()
    assert 'name="sent_folder" value="Sent Items"' in page

    response = client.post(
        f"/mailboxes/{mailbox.pk}/edit/",
        {**VALID, "password": "", "sent_folder": "Sent\r\nX1 CREATE Injected"},
    )
    assert response.status_code == 200
    block = response.content.decode().split('id="field-sent_folder"', 1)[1][:600]
    assert "The folder name cannot contain line breaks." in block
    assert Mailbox.objects.get().sent_folder == "Sent Items"

    client.post(f"/mailboxes/{mailbox.pk}/edit/", {**VALID, "password": "", "sent_folder": ""})
    assert Mailbox.objects.get().sent_folder == ""


def test_a_caller_that_does_not_set_it_keeps_it(client: Client) -> None:
    client.post("/mailboxes/new/", {**VALID, "sent_folder": "Archive/Replies"})
    mailbox = Mailbox.objects.get()
    save_mailbox(
        MailboxInput(label="Support desk", email="support@example.test"),
        password=None,
        mailbox=mailbox,
    )
    after = Mailbox.objects.get()
    assert after.label == "Support desk" and after.sent_folder == "Archive/Replies"
