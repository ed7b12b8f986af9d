"""Who sees what: administrator, authorized member (by user or by role), and stranger."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from mailroom.alerts import raise_alert
from mailroom.mailboxes.actions import MailboxInput, save_mailbox, set_access, set_folders
from mailroom.models import Alert, Mailbox, Message
from tests.storing import store_one

pytestmark = pytest.mark.django_db

RAW = b"From: a@customer.test\r\nSubject: Secret plans\r\n\r\nbody\r\n"


@pytest.fixture
def mailbox() -> Mailbox:
    box = save_mailbox(
        MailboxInput(label="Support", email="support@example.test", imap_host="imap.example.test"),
        password="s3cret-imap-pw",
    )
    set_folders(box, known=["INBOX"], selected=["INBOX"])
    return box


@pytest.fixture
def message(mailbox: Mailbox) -> Message:
    stored = store_one(mailbox.folders.get(), 1, RAW)
    assert stored is not None
    return stored


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def alert(mailbox: Mailbox) -> Alert:
    raise_alert(mailbox.pk, "auth", "Support: the IMAP server refused the login.")
    return Alert.objects.get()


@pytest.fixture
def admin() -> User:
    return User.objects.create_user("alice", password="x", is_staff=True)


@pytest.fixture
def member(mailbox: Mailbox) -> User:
    user = User.objects.create_user("bob", password="x")
    set_access(mailbox, user_ids=[user.pk], group_ids=[])
    return user


@pytest.fixture
def role_member(mailbox: Mailbox) -> User:
    user = User.objects.create_user("dora", password="x")
    role = Group.objects.create(name="Support agents")
    user.groups.add(role)
    set_access(mailbox, user_ids=[], group_ids=[role.pk])
    return user


@pytest.fixture
def stranger() -> User:
    return User.objects.create_user("charlie", password="x")


def test_it_shows_the_mailbox_and_its_mail_to_an_administrator(
    admin: User, mailbox: Mailbox, message: Message
) -> None:
    client = _client(admin)
    assert "Support" in client.get("/").content.decode()
    assert client.get(f"/mailboxes/{mailbox.pk}/").status_code == 200
    assert "Secret plans" in client.get(f"/messages/{message.pk}/").content.decode()
    assert client.get(f"/mailboxes/{mailbox.pk}/edit/").status_code == 200
    assert client.get(f"/mailboxes/{mailbox.pk}/progress/").status_code == 200
    assert client.get(f"/mailboxes/{mailbox.pk}/delete/").status_code == 200


@pytest.mark.parametrize("persona", ["member", "role_member"])
def test_it_lets_an_authorized_user_read_but_not_manage(
    persona: str, request: pytest.FixtureRequest, mailbox: Mailbox, message: Message, alert: Alert
) -> None:
    client = _client(request.getfixturevalue(persona))
    assert "Support" in client.get("/").content.decode()
    assert client.get(f"/mailboxes/{mailbox.pk}/").status_code == 200
    assert client.get(f"/messages/{message.pk}/").status_code == 200
    assert client.get(f"/mailboxes/{mailbox.pk}/edit/").status_code == 404
    assert client.get("/mailboxes/new/").status_code == 404
    assert client.get(f"/mailboxes/{mailbox.pk}/progress/").status_code == 200
    assert client.post(f"/mailboxes/{mailbox.pk}/sync/").status_code == 302
    assert client.get(f"/mailboxes/{mailbox.pk}/delete/").status_code == 404
    assert client.post(f"/mailboxes/{mailbox.pk}/delete/").status_code == 404
    assert client.post(f"/mailboxes/{mailbox.pk}/alerts/{alert.pk}/dismiss/").status_code == 404
    assert Mailbox.objects.filter(pk=mailbox.pk).exists()


def test_it_hides_the_mailbox_from_a_stranger_as_if_it_did_not_exist(
    stranger: User, mailbox: Mailbox, message: Message, alert: Alert
) -> None:
    client = _client(stranger)
    listing = client.get("/").content.decode()
    assert "Support" not in listing and "No system mailboxes yet" in listing
    assert client.get(f"/mailboxes/{mailbox.pk}/").status_code == 404
    assert client.get(f"/messages/{message.pk}/").status_code == 404
    assert client.get(f"/mailboxes/{mailbox.pk}/edit/").status_code == 404
    assert client.get(f"/mailboxes/{mailbox.pk}/progress/").status_code == 404
    assert client.post(f"/mailboxes/{mailbox.pk}/sync/").status_code == 404
    assert client.get(f"/mailboxes/{mailbox.pk}/delete/").status_code == 404
    assert client.post(f"/mailboxes/{mailbox.pk}/alerts/{alert.pk}/dismiss/").status_code == 404
    assert client.get("/mailboxes/999999/").status_code == 404
    assert client.get("/mailboxes/999999/progress/").status_code == 404
    assert Alert.objects.get(pk=alert.pk).resolved_at is None


@pytest.mark.parametrize("page", ["", "progress/", "delete/"])
def test_it_sends_anonymous_visitors_to_the_login_page(mailbox: Mailbox, page: str) -> None:
    response = Client().get(f"/mailboxes/{mailbox.pk}/{page}")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_it_refuses_a_form_post_without_csrf_token(admin: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    response = client.post("/mailboxes/new/", {"label": "X", "email": "x@example.test"})
    assert response.status_code == 403
    assert not Mailbox.objects.filter(label="X").exists()


def test_it_never_sends_the_stored_password_to_the_browser(admin: User, mailbox: Mailbox) -> None:
    page = _client(admin).get(f"/mailboxes/{mailbox.pk}/edit/").content.decode()
    assert "s3cret-imap-pw" not in page
    assert "A password is stored" in page
