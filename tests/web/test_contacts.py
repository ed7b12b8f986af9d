"""The Contact page, and the Contacts and conversation marks on the Lead and Case pages.

Ann writes to two mailboxes, Sales (a Lead, its conversation marked "out of office") and
Support (a Case, its conversation marked "delivery failed"). Each reader sees of her only
what belongs to the mailboxes they may read.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from mailroom.mailboxes.actions import MailboxInput, save_mailbox, set_access, set_folders
from mailroom.models import Case, Contact, Conversation, Lead, Mailbox, Message
from mailroom.web.views.contacts import MESSAGES_SHOWN
from tests.storing import store_one

pytestmark = pytest.mark.django_db

SALES_SUBJECT = "Price of 40 widgets"
SUPPORT_SUBJECT = "Invoice 2291 is wrong"


def _mailbox(label: str) -> Mailbox:
    box = save_mailbox(
        MailboxInput(label=label, email=f"{label.lower()}@example.test"), password=""
    )
    set_folders(box, known=["INBOX"], selected=["INBOX"])
    return box


def _message(mailbox: Mailbox, uid: int, subject: str, contact: Contact | None) -> Message:
    """A message from Ann stored in ``mailbox``, its sender's Contact set as threading does."""
    raw = (
        f"From: Ann Buyer <ann@customer.test>\r\nTo: {mailbox.email}\r\n"
        f"Subject: {subject}\r\nDate: Tue, 01 Dec 2026 09:{uid:02d}:00 +0000\r\n"
        f"Message-ID: <{mailbox.pk}-{uid}@customer.test>\r\n\r\nHello.\r\n"
    ).encode()
    stored = store_one(mailbox.folders.get(), uid, raw)
    assert stored is not None
    Message.objects.filter(pk=stored.pk).update(contact=contact)
    stored.refresh_from_db()
    return stored


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _page(user: User, url: str, status: int = 200) -> str:
    response = _client(user).get(url)
    assert response.status_code == status
    return response.content.decode()


@pytest.fixture
def ann() -> Contact:
    return Contact.objects.create(email="ann@customer.test", name="Ann Buyer", language="de")


@pytest.fixture
def sales() -> Mailbox:
    return _mailbox("Sales")


@pytest.fixture
def support() -> Mailbox:
    return _mailbox("Support")


@pytest.fixture
def lead(sales: Mailbox, ann: Contact) -> Lead:
    message = _message(sales, 1, SALES_SUBJECT, ann)
    conversation = Conversation.objects.create(
        mailbox=sales, subject=SALES_SUBJECT, contact=ann, marks=["out of office"]
    )
    Message.objects.filter(pk=message.pk).update(conversation=conversation)
    return Lead.objects.create(
        name="Ann Buyer",
        email=ann.email,
        message=message,
        conversation=conversation,
        contact=ann,
    )


@pytest.fixture
def case(support: Mailbox, ann: Contact) -> Case:
    message = _message(support, 1, SUPPORT_SUBJECT, ann)
    conversation = Conversation.objects.create(
        mailbox=support, subject=SUPPORT_SUBJECT, contact=ann, marks=["delivery failed"]
    )
    Message.objects.filter(pk=message.pk).update(conversation=conversation)
    return Case.objects.create(
        number=2291,
        subject=SUPPORT_SUBJECT,
        message=message,
        conversation=conversation,
        contact=ann,
    )


@pytest.fixture
def admin() -> User:
    return User.objects.create_user("alice", password="x", is_staff=True)


@pytest.fixture
def sales_role_member(sales: Mailbox) -> User:
    """Dora reads Sales through her role, not as an authorized user."""
    user = User.objects.create_user("dora", password="x")
    role = Group.objects.create(name="Sales team")
    user.groups.add(role)
    set_access(sales, user_ids=[], group_ids=[role.pk])
    return user


@pytest.fixture
def stranger() -> User:
    return User.objects.create_user("charlie", password="x")


def test_it_shows_an_administrator_everything_about_the_contact(
    admin: User, ann: Contact, lead: Lead, case: Case
) -> None:
    page = _page(admin, f"/contacts/{ann.pk}/")
    fields = page.split('id="fields"', 1)[1].split("</dl>", 1)[0]
    assert "ann@customer.test" in fields and "Ann Buyer" in fields
    assert '<dd id="language">de</dd>' in fields
    assert f'href="/leads/{lead.pk}/"' in page.split('id="leads"', 1)[1]
    assert f'href="/cases/{case.pk}/"' in page.split('id="cases"', 1)[1]
    conversations = page.split('id="conversations"', 1)[1].split('id="messages"', 1)[0]
    assert SALES_SUBJECT in conversations and SUPPORT_SUBJECT in conversations
    assert '<span class="badge mark">out of office</span>' in conversations
    assert '<span class="badge mark">delivery failed</span>' in conversations
    mail = page.split('id="messages"', 1)[1]
    assert f'href="/messages/{lead.message_id}/"' in mail
    assert f'href="/messages/{case.message_id}/"' in mail
    assert "(2)" in mail


def test_it_shows_a_role_member_only_what_belongs_to_their_mailboxes(
    sales_role_member: User, ann: Contact, lead: Lead, case: Case
) -> None:
    page = _page(sales_role_member, f"/contacts/{ann.pk}/")
    assert f'href="/leads/{lead.pk}/"' in page
    assert SALES_SUBJECT in page and "out of office" in page
    assert f'href="/messages/{lead.message_id}/"' in page
    # Nothing of Support: not its Case, its subject, its mark nor its message.
    assert f'href="/cases/{case.pk}/"' not in page
    assert SUPPORT_SUBJECT not in page
    assert "delivery failed" not in page
    assert f'href="/messages/{case.message_id}/"' not in page
    assert "Support" not in page
    assert "No Cases." in page
    assert "(1)" in page.split('id="messages"', 1)[1]


def test_it_does_not_exist_for_a_user_who_may_read_none_of_its_mailboxes(
    stranger: User, ann: Contact, lead: Lead, case: Case
) -> None:
    page = _page(stranger, f"/contacts/{ann.pk}/", status=404)
    for text in ("ann@customer.test", SALES_SUBJECT, SUPPORT_SUBJECT):
        assert text not in page
    # A reader of another mailbox, where Ann never wrote, does not see her either.
    other = _mailbox("Other")
    set_access(other, user_ids=[stranger.pk], group_ids=[])
    assert SALES_SUBJECT not in _page(stranger, f"/contacts/{ann.pk}/", status=404)
    # As a Contact no one has heard of.
    _page(stranger, f"/contacts/{ann.pk + 100}/", status=404)


def test_it_sends_anonymous_visitors_to_the_login_page(ann: Contact) -> None:
    response = Client().get(f"/contacts/{ann.pk}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_it_says_when_the_preferred_language_is_not_known(
    sales_role_member: User, sales: Mailbox
) -> None:
    bea = Contact.objects.create(email="bea@customer.test")
    _message(sales, 7, "Hello", bea)
    page = _page(sales_role_member, f"/contacts/{bea.pk}/")
    assert '<dd id="language"><span class="muted">not known</span></dd>' in page
    assert "No Leads." in page and "No Cases." in page


def test_it_shows_the_latest_messages_and_how_many_there_are(
    sales_role_member: User, sales: Mailbox, ann: Contact
) -> None:
    sent = [_message(sales, uid, f"Question {uid}", ann) for uid in range(1, MESSAGES_SHOWN + 6)]
    mail = _page(sales_role_member, f"/contacts/{ann.pk}/").split('id="messages"', 1)[1]
    assert f"latest {MESSAGES_SHOWN} of {MESSAGES_SHOWN + 5}" in mail
    assert mail.count('href="/messages/') == MESSAGES_SHOWN
    # Newest first: the last one sent leads, the first five are left out.
    assert mail.index(f'href="/messages/{sent[-1].pk}/"') < mail.index(
        f'href="/messages/{sent[-2].pk}/"'
    )
    for old in sent[:5]:
        assert f'href="/messages/{old.pk}/"' not in mail


def test_it_escapes_what_senders_wrote(admin: User, sales: Mailbox, lead: Lead) -> None:
    evil = Contact.objects.create(
        email="evil@customer.test", name='<script>alert("name")</script>', language="<b>de</b>"
    )
    Lead.objects.filter(pk=lead.pk).update(contact=evil)
    Conversation.objects.filter(pk=lead.conversation_id).update(
        contact=evil, marks=["<img src=x onerror=alert(1)>"]
    )
    for url in (f"/contacts/{evil.pk}/", f"/leads/{lead.pk}/", "/leads/"):
        page = _page(admin, url)
        assert "<script>alert" not in page and "<img src=x" not in page and "<b>de" not in page
        assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;script&gt;alert(&quot;name&quot;)&lt;/script&gt;" in _page(
        admin, f"/contacts/{evil.pk}/"
    )


def test_the_lead_and_case_pages_link_the_contact_and_show_the_marks(
    admin: User, ann: Contact, lead: Lead, case: Case
) -> None:
    contact_link = f'<a href="/contacts/{ann.pk}/">Ann Buyer &lt;ann@customer.test&gt;</a>'
    for url, mark in (
        (f"/leads/{lead.pk}/", "out of office"),
        (f"/cases/{case.pk}/", "delivery failed"),
    ):
        page = _page(admin, url)
        assert contact_link in page.split('id="contact"', 1)[1].split("</dd>", 1)[0]
        thread = page.split('id="thread"', 1)[1].split('id="changes"', 1)[0]
        assert f'<span class="badge mark">{mark}</span>' in thread.split("</h2>", 1)[0]
        # The sender of each message of the conversation links to the Contact too.
        assert f'href="/contacts/{ann.pk}/"' in thread


def test_the_lists_link_the_contact_and_show_the_marks(
    sales_role_member: User, admin: User, ann: Contact, lead: Lead, case: Case
) -> None:
    rows = _page(sales_role_member, "/leads/").split("<tbody>", 1)[1]
    assert f'<a href="/contacts/{ann.pk}/">ann@customer.test</a>' in rows
    assert '<span class="badge mark">out of office</span>' in rows
    rows = _page(admin, "/cases/").split("<tbody>", 1)[1]
    assert f'<a href="/contacts/{ann.pk}/">Ann Buyer</a>' in rows
    assert '<span class="badge mark">delivery failed</span>' in rows
    # Each Contact link a reader follows leads to a page they may see.
    _page(sales_role_member, f"/contacts/{ann.pk}/")


def test_a_record_without_a_contact_or_marks_shows_neither(admin: User, sales: Mailbox) -> None:
    message = _message(sales, 9, "No one", None)
    bare = Lead.objects.create(name="Walk-in", message=message)
    page = _page(admin, f"/leads/{bare.pk}/")
    assert '<dd id="contact">—</dd>' in page
    assert "/contacts/" not in page and "badge mark" not in page
    row = _page(admin, "/leads/").split(f'href="/leads/{bare.pk}/"', 1)[1].split("</tr>", 1)[0]
    assert "/contacts/" not in row and "badge mark" not in row
