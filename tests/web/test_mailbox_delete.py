"""Deleting a mailbox: only by an administrator, after a page that says what goes, with the
label typed back."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from mailroom.mailboxes.actions import MailboxInput, save_mailbox, set_access, set_folders
from mailroom.models import (
    AutoResponseRule,
    Case,
    EmailTemplate,
    Lead,
    Mailbox,
    MailboxConnection,
    Message,
)
from tests.storing import store_one

pytestmark = pytest.mark.django_db


def _raw(n: int) -> bytes:
    return f"From: c{n}@customer.test\r\nSubject: Order {n}\r\n\r\nbody {n}\r\n".encode()


@pytest.fixture
def mailbox() -> Mailbox:
    box = save_mailbox(
        MailboxInput(label="Support", email="support@example.test", imap_host="imap.example.test"),
        password="pw",
    )
    set_folders(box, known=["INBOX"], selected=["INBOX"])
    folder = box.folders.get()
    messages = [store_one(folder, uid, _raw(uid)) for uid in (1, 2, 3)]
    Case.objects.create(subject="Order 1", message=messages[0])
    Lead.objects.create(name="C2", message=messages[1])
    template = EmailTemplate.objects.create(name="ack")
    AutoResponseRule.objects.create(mailbox=box, name="Ack", template=template)
    return box


@pytest.fixture
def admin() -> Client:
    client = Client()
    client.force_login(User.objects.create_user("alice", password="x", is_staff=True))
    return client


def test_it_says_what_will_be_deleted(admin: Client, mailbox: Mailbox) -> None:
    detail = admin.get(f"/mailboxes/{mailbox.pk}/").content.decode()
    assert f'href="/mailboxes/{mailbox.pk}/delete/"' in detail

    page = admin.get(f"/mailboxes/{mailbox.pk}/delete/").content.decode()

    summary = " ".join(page.split('id="deletion-summary"', 1)[1].split("</ul>", 1)[0].split())
    assert "<strong>3</strong> stored messages" in summary
    assert "<strong>1</strong> autoresponse rule," not in summary  # singular, no comma
    assert "<strong>1</strong> autoresponse rule" in summary
    assert "<strong>1</strong> case link and <strong>1</strong> lead link" in summary
    assert "the Cases and Leads stay" in summary
    assert "Type the mailbox label to confirm" in page
    assert Mailbox.objects.filter(pk=mailbox.pk).exists()


@pytest.mark.parametrize("typed", ["", "support", "Sales"])
def test_it_deletes_nothing_unless_the_label_is_typed_exactly(
    admin: Client, mailbox: Mailbox, typed: str
) -> None:
    response = admin.post(f"/mailboxes/{mailbox.pk}/delete/", {"confirm_label": typed})

    assert response.status_code == 200
    block = response.content.decode().split('id="field-confirm_label"', 1)[1].split("</form>")[0]
    expected = "This field is required." if not typed else "type “Support” exactly"
    assert '<div class="error">' in block and expected in block
    assert Mailbox.objects.filter(pk=mailbox.pk).exists()
    assert Message.objects.count() == 3


def test_it_deletes_the_mailbox_and_keeps_its_cases_and_leads(
    admin: Client, mailbox: Mailbox
) -> None:
    response = admin.post(
        f"/mailboxes/{mailbox.pk}/delete/", {"confirm_label": " Support "}, follow=True
    )

    assert response.redirect_chain == [("/", 302)]
    assert "Mailbox “Support” deleted, with its 3 stored messages." in response.content.decode()
    assert not Mailbox.objects.exists()
    assert not Message.objects.exists()
    assert not MailboxConnection.objects.exists()
    assert not AutoResponseRule.objects.exists()
    assert Case.objects.get().message is None
    assert Lead.objects.get().message is None


def test_only_administrators_may_delete(mailbox: Mailbox) -> None:
    member = User.objects.create_user("bob", password="x")
    set_access(mailbox, user_ids=[member.pk], group_ids=[])
    client = Client()
    client.force_login(member)

    assert 'id="delete-mailbox"' not in client.get(f"/mailboxes/{mailbox.pk}/").content.decode()
    assert client.get(f"/mailboxes/{mailbox.pk}/delete/").status_code == 404
    response = client.post(f"/mailboxes/{mailbox.pk}/delete/", {"confirm_label": "Support"})
    assert response.status_code == 404
    assert Mailbox.objects.filter(pk=mailbox.pk).exists()
