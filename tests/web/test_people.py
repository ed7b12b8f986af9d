"""People and roles in the product: administrators create, edit, deactivate and reset users,
and manage roles; for anyone else none of these pages exists (404), GET or POST."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group, User
from django.contrib.sessions.models import Session
from django.test import Client

from mailroom.mailboxes.actions import MailboxInput, save_mailbox, set_access
from mailroom.models import Mailbox

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin() -> User:
    return User.objects.create_superuser("admin@example.test", "admin@example.test", "pw-admin-1")


@pytest.fixture
def agent() -> User:
    return User.objects.create_user(
        "agent@example.test", "agent@example.test", "pw-agent-12", first_name="Ann Agent"
    )


@pytest.fixture
def role() -> Group:
    return Group.objects.create(name="Support agents")


@pytest.fixture
def mailbox() -> Mailbox:
    return save_mailbox(
        MailboxInput(label="Support", email="support@example.test", imap_host="imap.example.test"),
        password="s3cret",
    )


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _password_on(page: str) -> str:
    match = re.search(r'<code class="password" id="password">([^<]+)</code>', page)
    assert match, page
    return match.group(1)


def _can_log_in(username: str, password: str) -> bool:
    client = Client()
    response = client.post("/login/", {"username": username, "password": password})
    return response.status_code == 302 and "_auth_user_id" in client.session


# --- Listing and searching ---------------------------------------------------------------------


def test_it_lists_people_with_roles_status_and_administrator(
    admin: User, agent: User, role: Group
) -> None:
    agent.groups.add(role)
    page = _client(admin).get("/people/").content.decode()
    assert "Ann Agent" in page and "agent@example.test" in page
    assert "Support agents" in page
    assert 'data-label="Administrator"><span class="badge ok">Yes' in page  # the admin
    assert "never" in page  # the agent never logged in


def test_the_search_box_finds_people_by_name_email_or_role(
    admin: User, agent: User, role: Group
) -> None:
    User.objects.create_user("zed@example.test", "zed@example.test", "x")
    agent.groups.add(role)
    client = _client(admin)
    assert 'data-person="agent@example.test"' in client.get("/people/?q=ann").content.decode()
    by_role = client.get("/people/?q=support agents").content.decode()
    assert 'data-person="agent@example.test"' in by_role
    assert 'data-person="zed@example.test"' not in by_role
    nobody = client.get("/people/?q=nobody-at-all").content.decode()
    assert "Nobody matches" in nobody


# --- Creating -----------------------------------------------------------------------------------


def test_it_creates_a_user_with_a_generated_password_shown_once(admin: User, role: Group) -> None:
    client = _client(admin)
    response = client.post(
        "/people/new/",
        {
            "name": "Bea Builder",
            "email": "Bea@Example.test",
            "roles": [role.pk],
            "password_mode": "generate",
        },
    )
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    page = response.content.decode()
    assert "shown only this once" in page
    password = _password_on(page)
    assert len(password) >= 12
    bea = User.objects.get(username="bea@example.test")
    assert bea.email == "bea@example.test" and bea.get_full_name() == "Bea Builder"
    assert list(bea.groups.all()) == [role]
    assert not bea.is_staff and bea.is_active
    # Not kept anywhere it could be shown again: the person's page does not have it.
    assert password not in client.get(f"/people/{bea.pk}/").content.decode()
    assert password not in client.get("/people/").content.decode()
    assert _can_log_in("bea@example.test", password)


def test_it_creates_an_administrator_with_the_password_set(admin: User) -> None:
    response = _client(admin).post(
        "/people/new/",
        {
            "name": "Carl",
            "email": "carl@example.test",
            "is_admin": "on",
            "password_mode": "choose",
            "password": "carl-long-password",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/people/"
    carl = User.objects.get(username="carl@example.test")
    assert carl.is_staff
    assert _can_log_in("carl@example.test", "carl-long-password")


def test_a_short_password_or_a_taken_email_is_refused_at_its_field(
    admin: User, agent: User
) -> None:
    client = _client(admin)
    short = client.post(
        "/people/new/",
        {"email": "new@example.test", "password_mode": "choose", "password": "short"},
    ).content.decode()
    assert "Enter at least 10 characters." in short
    taken = client.post(
        "/people/new/", {"email": "AGENT@example.test", "password_mode": "generate"}
    ).content.decode()
    assert "Someone already has this email address." in taken
    assert User.objects.count() == 2


# --- Editing ------------------------------------------------------------------------------------


def test_it_edits_name_email_roles_and_administrator(admin: User, agent: User, role: Group) -> None:
    response = _client(admin).post(
        f"/people/{agent.pk}/",
        {"name": "Ann Other", "email": "ann@example.test", "roles": [role.pk], "is_admin": "on"},
    )
    assert response.status_code == 302
    agent.refresh_from_db()
    assert (agent.username, agent.email, agent.get_full_name()) == (
        "ann@example.test",
        "ann@example.test",
        "Ann Other",
    )
    assert agent.is_staff and list(agent.groups.all()) == [role]
    # Their password still works, with the new login.
    assert _can_log_in("ann@example.test", "pw-agent-12")


def test_nobody_takes_away_their_own_or_the_last_administrator_rights(admin: User) -> None:
    client = _client(admin)
    page = client.post(
        f"/people/{admin.pk}/", {"name": "", "email": "admin@example.test"}
    ).content.decode()
    assert "You cannot take away your own administrator rights." in page
    admin.refresh_from_db()
    assert admin.is_staff
    # Another administrator may take them, while one is left (a superuser's, a superuser).
    other = User.objects.create_superuser("o@example.test", "o@example.test", "x")
    response = _client(other).post(f"/people/{admin.pk}/", {"email": "admin@example.test"})
    assert response.status_code == 302
    admin.refresh_from_db()
    assert not admin.is_staff and not admin.is_superuser


# --- Deactivating -------------------------------------------------------------------------------


def test_it_deactivates_and_reactivates_a_user_who_is_logged_out_meanwhile(
    admin: User, agent: User
) -> None:
    agent_client = _client(agent)
    assert agent_client.get("/").status_code == 200
    response = _client(admin).post(f"/people/{agent.pk}/deactivate/")
    assert response.status_code == 302
    agent.refresh_from_db()
    assert not agent.is_active
    assert User.objects.filter(pk=agent.pk).exists()  # never deleted
    assert agent_client.get("/")["Location"].startswith("/login/")
    assert not _can_log_in("agent@example.test", "pw-agent-12")
    page = _client(admin).get("/people/").content.decode()
    assert "Deactivated" in page

    assert _client(admin).post(f"/people/{agent.pk}/reactivate/").status_code == 302
    agent.refresh_from_db()
    assert agent.is_active
    assert _can_log_in("agent@example.test", "pw-agent-12")


def test_nobody_deactivates_themself(admin: User) -> None:
    client = _client(admin)
    response = client.post(f"/people/{admin.pk}/deactivate/", follow=True)
    assert "You cannot deactivate yourself." in response.content.decode()
    admin.refresh_from_db()
    assert admin.is_active


def test_the_last_active_administrator_cannot_be_deactivated(admin: User) -> None:
    # A second administrator, since deactivated, does not count.
    gone = User.objects.create_user("gone@example.test", password="x", is_staff=True)
    gone.is_active = False
    gone.save()
    other = User.objects.create_superuser("o@example.test", "o@example.test", "x")
    client = _client(other)
    assert client.post(f"/people/{admin.pk}/deactivate/").status_code == 302
    admin.refresh_from_db()
    assert not admin.is_active
    # ``other`` is the last one now: nobody (not even another, demoted since) can remove it.
    from mailroom.people.actions import PeopleRefused, deactivate_person

    with pytest.raises(PeopleRefused, match="last active administrator"):
        deactivate_person(other, actor=admin)
    other.refresh_from_db()
    assert other.is_active


# --- Resetting a password -----------------------------------------------------------------------


def test_a_password_reset_shows_a_new_password_once_and_ends_the_sessions(
    admin: User, agent: User
) -> None:
    agent_client = _client(agent)
    assert agent_client.get("/").status_code == 200
    assert Session.objects.count() == 1
    response = _client(admin).post(f"/people/{agent.pk}/reset-password/")
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    password = _password_on(response.content.decode())
    # The agent's session is gone (the admin's remains).
    assert agent_client.get("/")["Location"].startswith("/login/")
    assert Session.objects.count() == 1
    assert not _can_log_in("agent@example.test", "pw-agent-12")
    assert _can_log_in("agent@example.test", password)


def test_a_password_reset_lifts_a_lock_out(admin: User, agent: User) -> None:
    for _ in range(5):
        Client().post("/login/", {"username": agent.username, "password": "wrong"})
    assert not _can_log_in(agent.username, "pw-agent-12")
    response = _client(admin).post(f"/people/{agent.pk}/reset-password/")
    assert _can_log_in(agent.username, _password_on(response.content.decode()))


# --- Roles --------------------------------------------------------------------------------------


def test_it_creates_a_role_with_members_and_mailboxes(
    admin: User, agent: User, mailbox: Mailbox
) -> None:
    response = _client(admin).post(
        "/people/roles/", {"name": "Sales", "members": [agent.pk], "mailboxes": [mailbox.pk]}
    )
    assert response.status_code == 302
    sales = Group.objects.get(name="Sales")
    assert list(sales.user_set.all()) == [agent]
    assert list(mailbox.authorized_groups.all()) == [sales]
    # The member now reads the mailbox.
    assert _client(agent).get(f"/mailboxes/{mailbox.pk}/").status_code == 200


def test_it_renames_a_role_and_changes_its_members_and_mailboxes(
    admin: User, agent: User, role: Group, mailbox: Mailbox
) -> None:
    set_access(mailbox, user_ids=[], group_ids=[role.pk])
    agent.groups.add(role)
    client = _client(admin)
    page = client.get(f"/people/roles/{role.pk}/").content.decode()
    assert "data-searchable" in page and "multiselect.js" in page
    response = client.post(f"/people/roles/{role.pk}/", {"name": "Helpdesk"})
    assert response.status_code == 302
    role.refresh_from_db()
    assert role.name == "Helpdesk"
    assert not role.user_set.exists() and not mailbox.authorized_groups.exists()
    assert _client(agent).get(f"/mailboxes/{mailbox.pk}/").status_code == 404


def test_a_role_name_is_unique(admin: User, role: Group) -> None:
    page = _client(admin).post("/people/roles/", {"name": "support AGENTS"}).content.decode()
    assert "Another role already has this name." in page
    assert Group.objects.count() == 1


def test_an_unused_role_is_deleted_at_once(admin: User, role: Group) -> None:
    assert _client(admin).post(f"/people/roles/{role.pk}/delete/").status_code == 302
    assert not Group.objects.exists()


def test_a_role_in_use_is_deleted_only_once_confirmed(
    admin: User, agent: User, role: Group, mailbox: Mailbox
) -> None:
    agent.groups.add(role)
    set_access(mailbox, user_ids=[], group_ids=[role.pk])
    client = _client(admin)
    page = client.get(f"/people/roles/{role.pk}/delete/").content.decode()
    assert "agent@example.test" in page and "Support" in page
    unconfirmed = client.post(f"/people/roles/{role.pk}/delete/")
    assert unconfirmed.status_code == 200
    assert "Tick the box to confirm." in unconfirmed.content.decode()
    assert Group.objects.filter(pk=role.pk).exists()
    assert client.post(f"/people/roles/{role.pk}/delete/", {"confirm": "1"}).status_code == 302
    assert not Group.objects.exists()
    agent.refresh_from_db()
    assert agent.is_active  # the account stays


# --- Who may open these pages -------------------------------------------------------------------


def _urls(agent: User, role: Group) -> list[tuple[str, str]]:
    return [
        ("get", "/people/"),
        ("get", "/people/?q=a"),
        ("get", "/people/new/"),
        ("post", "/people/new/"),
        ("get", f"/people/{agent.pk}/"),
        ("post", f"/people/{agent.pk}/"),
        ("get", f"/people/{agent.pk}/deactivate/"),
        ("post", f"/people/{agent.pk}/deactivate/"),
        ("post", f"/people/{agent.pk}/reactivate/"),
        ("post", f"/people/{agent.pk}/reset-password/"),
        ("get", "/people/roles/"),
        ("post", "/people/roles/"),
        ("get", f"/people/roles/{role.pk}/"),
        ("post", f"/people/roles/{role.pk}/"),
        ("get", f"/people/roles/{role.pk}/delete/"),
        ("post", f"/people/roles/{role.pk}/delete/"),
    ]


def test_none_of_the_people_pages_exists_for_someone_not_an_administrator(
    agent: User, role: Group, mailbox: Mailbox
) -> None:
    reader = User.objects.create_user("reader@example.test", password="x")
    reader.groups.add(role)
    set_access(mailbox, user_ids=[reader.pk], group_ids=[role.pk])
    client = _client(reader)
    for method, url in _urls(agent, role):
        data = {"name": "Hacked", "email": "x@example.test", "is_admin": "on", "confirm": "1"}
        response = client.post(url, data) if method == "post" else client.get(url)
        assert response.status_code == 404, (method, url)
    agent.refresh_from_db()
    role.refresh_from_db()
    assert agent.is_active and agent.get_full_name() == "Ann Agent" and not agent.is_staff
    assert role.name == "Support agents" and User.objects.count() == 2
    assert "People" not in client.get("/").content.decode().split("<main>")[0]


def test_someone_logged_out_is_sent_to_the_login_page(agent: User, role: Group) -> None:
    for method, url in _urls(agent, role):
        response = getattr(Client(), method)(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_the_post_only_actions_refuse_get(admin: User, agent: User) -> None:
    client = _client(admin)
    for action in ("deactivate", "reactivate", "reset-password"):
        assert client.get(f"/people/{agent.pk}/{action}/").status_code == 405


def test_every_change_needs_the_csrf_token(admin: User, agent: User, role: Group) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    for method, url in _urls(agent, role):
        if method == "post":
            assert client.post(url, {"name": "x", "email": "x@example.test"}).status_code == 403
    agent.refresh_from_db()
    assert agent.is_active and agent.get_full_name() == "Ann Agent"


def test_the_header_links_people_for_administrators_and_nothing_leads_to_the_django_admin(
    admin: User, agent: User, role: Group
) -> None:
    client = _client(admin)
    assert 'href="/people/"' in client.get("/").content.decode()
    for method, url in _urls(agent, role):
        if method == "get" and not url.endswith(("/deactivate/",)):
            page = client.get(url).content.decode()
            assert "/admin/" not in page, url


def test_resetting_your_own_password_ends_your_other_sessions_only(admin: User) -> None:
    other = _client(admin)
    client = _client(admin)
    response = client.post(f"/people/{admin.pk}/reset-password/")
    password = _password_on(response.content.decode())
    assert client.get("/people/").status_code == 200  # still logged in here
    assert other.get("/people/")["Location"].startswith("/login/")
    assert _can_log_in(admin.username, password)


def test_an_administrator_who_is_not_a_superuser_cannot_change_a_superuser(admin: User) -> None:
    staff = User.objects.create_user(
        "staff@example.test", "staff@example.test", "pw", is_staff=True
    )
    client = _client(staff)
    before = User.objects.get(pk=admin.pk).password
    for url in (
        f"/people/{admin.pk}/",
        f"/people/{admin.pk}/reset-password/",
        f"/people/{admin.pk}/deactivate/",
    ):
        assert client.post(url, {"name": "x", "email": "x@example.test"}).status_code == 404, url
    assert client.get(f"/people/{admin.pk}/").status_code == 404
    admin.refresh_from_db()
    assert admin.password == before and admin.is_active and admin.is_superuser
    # A superuser changes another superuser, and anyone else.
    other = User.objects.create_superuser("root2@example.test", "root2@example.test", "pw2")
    assert _client(admin).get(f"/people/{other.pk}/").status_code == 200
    assert _client(admin).get(f"/people/{staff.pk}/").status_code == 200
