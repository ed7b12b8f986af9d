"""The Lead and Case pages: fields, mail, changes in place by people who may read the mailbox."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from mailroom.mailboxes.actions import MailboxInput, save_mailbox, set_access, set_folders
from mailroom.models import Case, Contact, Conversation, Lead, Mailbox, Message, RecordChange
from tests.storing import store_one

pytestmark = pytest.mark.django_db

RAW = (
    b"From: Ann Buyer <ann@customer.test>\r\nTo: sales@example.test\r\n"
    b"Subject: Price of 40 widgets\r\nMessage-ID: <q1@customer.test>\r\n\r\nHow much?\r\n"
)


def _mailbox(label: str) -> Mailbox:
    box = save_mailbox(
        MailboxInput(label=label, email=f"{label.lower()}@example.test"), password=""
    )
    set_folders(box, known=["INBOX"], selected=["INBOX"])
    return box


def _message(mailbox: Mailbox, uid: int = 1) -> Message:
    raw = RAW.replace(b"q1@", f"q{mailbox.pk}-{uid}@".encode())
    stored = store_one(mailbox.folders.get(), uid, raw)
    assert stored is not None
    return stored


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def sales() -> Mailbox:
    return _mailbox("Sales")


@pytest.fixture
def member(sales: Mailbox) -> User:
    user = User.objects.create_user("bob", password="x")
    set_access(sales, user_ids=[user.pk], group_ids=[])
    return user


@pytest.fixture
def role_member(sales: Mailbox) -> User:
    user = User.objects.create_user("dora", password="x")
    role = Group.objects.create(name="Sales team")
    user.groups.add(role)
    members = list(sales.authorized_users.values_list("pk", flat=True))
    set_access(sales, user_ids=members, group_ids=[role.pk])
    return user


@pytest.fixture
def stranger() -> User:
    return User.objects.create_user("charlie", password="x")


@pytest.fixture
def lead(sales: Mailbox) -> Lead:
    return Lead.objects.create(
        name="Ann Buyer",
        email="ann@customer.test",
        topic="Price of 40 widgets",
        notes="How much?",
        message=_message(sales),
    )


@pytest.fixture
def case(sales: Mailbox) -> Case:
    case = Case.objects.create(subject="Printer broken", message=_message(sales, 2))
    case.number = case.pk
    case.save()
    return case


def test_it_shows_a_lead_with_its_fields_and_its_message(member: User, lead: Lead) -> None:
    page = _client(member).get(f"/leads/{lead.pk}/").content.decode()
    for text in ("Ann Buyer", "ann@customer.test", "Price of 40 widgets", "How much?", "Sales"):
        assert text in page
    assert f'href="/messages/{lead.message_id}/"' in page
    assert "No changes yet." in page


def test_it_changes_a_lead_in_place_and_records_each_change(
    member: User, role_member: User, lead: Lead
) -> None:
    client = _client(member)
    response = client.post(f"/leads/{lead.pk}/", {"status": "qualified", "owner": role_member.pk})
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.status == "qualified" and lead.owner == role_member
    changes = list(RecordChange.objects.filter(lead=lead).values_list("field", "old", "new"))
    assert changes == [("status", "New", "Qualified"), ("owner", "", "dora")]
    assert all(c.user == member for c in RecordChange.objects.all())

    # Saving the same values again records nothing.
    client.post(f"/leads/{lead.pk}/", {"status": "qualified", "owner": role_member.pk})
    assert RecordChange.objects.count() == 2
    page = client.get(f"/leads/{lead.pk}/").content.decode()
    changes_html = page.split('id="changes"', 1)[1]
    assert "Qualified" in changes_html and "dora" in changes_html and "bob" in changes_html


def test_it_offers_as_owner_only_people_who_may_read_the_mailbox(
    member: User, stranger: User, lead: Lead
) -> None:
    admin = User.objects.create_user("alice", password="x", is_staff=True)
    client = _client(member)
    page = client.get(f"/leads/{lead.pk}/").content.decode()
    owner_field = page.split('id="field-owner"', 1)[1].split("</select>", 1)[0]
    assert "bob" in owner_field and "alice" in owner_field
    assert "charlie" not in owner_field

    response = client.post(f"/leads/{lead.pk}/", {"status": "new", "owner": stranger.pk})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    lead.refresh_from_db()
    assert lead.owner is None
    assert not RecordChange.objects.exists()
    assert (
        client.post(f"/leads/{lead.pk}/", {"status": "new", "owner": admin.pk}).status_code == 302
    )


def test_it_changes_a_case_status_and_assignee(member: User, case: Case) -> None:
    client = _client(member)
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert "Printer broken" in page and f"Case {case.number}" in page
    response = client.post(f"/cases/{case.pk}/", {"status": "in_progress", "assignee": member.pk})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == "in_progress" and case.assignee == member
    changes = list(RecordChange.objects.filter(case=case).values_list("field", "old", "new"))
    assert changes == [("status", "Open", "In progress"), ("assignee", "", "bob")]
    client.post(f"/cases/{case.pk}/", {"status": "closed", "assignee": ""})
    case.refresh_from_db()
    assert case.assignee is None
    assert RecordChange.objects.filter(case=case).count() == 4
    assert client.post(f"/cases/{case.pk}/", {"status": "bogus"}).status_code == 400


def test_it_hides_records_of_other_mailboxes(
    stranger: User, member: User, lead: Lead, case: Case
) -> None:
    other = _mailbox("Other")
    hidden = Lead.objects.create(name="Zed", message=_message(other, 3))
    hidden_case = Case.objects.create(subject="Hidden", message=_message(other, 4))
    for user in (stranger, member):
        client = _client(user)
        assert client.get(f"/leads/{hidden.pk}/").status_code == 404
        assert client.post(f"/leads/{hidden.pk}/", {"status": "converted"}).status_code == 404
        assert client.get(f"/cases/{hidden_case.pk}/").status_code == 404
        assert client.post(f"/cases/{hidden_case.pk}/", {"status": "closed"}).status_code == 404
        assert "Zed" not in client.get("/leads/").content.decode()
        assert "Hidden" not in client.get("/cases/").content.decode()
    stranger_client = _client(stranger)
    assert stranger_client.get(f"/leads/{lead.pk}/").status_code == 404
    assert stranger_client.get(f"/cases/{case.pk}/").status_code == 404
    assert _client(member).get("/leads/").content.decode().count(f"/leads/{lead.pk}/") == 1
    hidden.refresh_from_db()
    assert hidden.status == "new"
    assert not RecordChange.objects.exists()


def test_an_administrator_sees_a_record_whose_mailbox_is_gone(lead: Lead) -> None:
    admin = User.objects.create_user("alice", password="x", is_staff=True)
    member = User.objects.create_user("bob", password="x")
    Lead.objects.filter(pk=lead.pk).update(message=None)
    page = _client(admin).get(f"/leads/{lead.pk}/").content.decode()
    assert "no longer stored" in page
    owner_field = page.split('id="field-owner"', 1)[1].split("</select>", 1)[0]
    assert "alice" in owner_field and "bob" not in owner_field
    assert member.pk  # bob exists, and is not offered


def test_the_lists_link_to_the_record_pages(member: User, lead: Lead, case: Case) -> None:
    client = _client(member)
    assert f'href="/leads/{lead.pk}/"' in client.get("/leads/").content.decode()
    assert f'href="/cases/{case.pk}/"' in client.get("/cases/").content.decode()


@pytest.mark.parametrize("kind", ["leads", "cases"])
def test_it_sends_anonymous_visitors_to_the_login_page(kind: str) -> None:
    response = Client().get(f"/{kind}/1/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_it_shows_the_conversation_in_order(member: User, sales: Mailbox, lead: Lead) -> None:
    conversation = Conversation.objects.create(mailbox=sales, subject="Price of 40 widgets")
    reply = _message(sales, 5)
    Message.objects.filter(pk__in=[lead.message_id, reply.pk]).update(conversation=conversation)
    Message.objects.filter(pk=reply.pk).update(subject="Re: Price of 40 widgets")
    Lead.objects.filter(pk=lead.pk).update(conversation=conversation)
    page = _client(member).get(f"/leads/{lead.pk}/").content.decode()
    thread = page.split('id="thread"', 1)[1].split('id="changes"', 1)[0]
    assert "Conversation (2 messages)" in thread
    first = thread.index(f'href="/messages/{lead.message_id}/"')
    assert first < thread.index(f'href="/messages/{reply.pk}/"')
    assert "Re: Price of 40 widgets" in thread


def test_it_lists_an_automatic_change_as_made_by_mailroom(member: User, case: Case) -> None:
    RecordChange.objects.create(case=case, field="status", old="Closed", new="Open")
    page = _client(member).get(f"/cases/{case.pk}/").content.decode()
    assert "mailroom (automatic)" in page.split('id="changes"', 1)[1]


def test_it_names_the_contact_of_a_lead_and_the_reporter_of_a_case(
    member: User, lead: Lead, case: Case
) -> None:
    ann = Contact.objects.create(email="ann@customer.test", name="Ann Buyer")
    Lead.objects.filter(pk=lead.pk).update(contact=ann)
    Case.objects.filter(pk=case.pk).update(contact=ann)
    client = _client(member)
    for url in (f"/leads/{lead.pk}/", f"/cases/{case.pk}/"):
        fields = client.get(url).content.decode().split('id="fields"', 1)[1].split("</dl>")[0]
        assert "Ann Buyer &lt;ann@customer.test&gt;" in fields
