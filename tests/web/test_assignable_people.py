"""Owners and assignees are people who can read the mailbox (its Leads and Cases are theirs to
open), in the mailbox form, the CLI and ``config import``; and people who are not
administrators never see a mailbox's server settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.management.base import CommandError
from django.test import Client

from mailroom.mailboxes.actions import MailboxInput, save_mailbox, set_access, set_folders
from mailroom.models import Mailbox
from mailroom.pipeline.processors.settings import NOT_A_READER
from tests.conftest import run_cli
from tests.web.test_mailbox_form import VALID

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin() -> User:
    return User.objects.create_user("alice", password="x", is_staff=True)


@pytest.fixture
def role() -> Group:
    return Group.objects.create(name="Support agents")


@pytest.fixture
def dora(role: Group) -> User:
    """In the role that reads the mailbox."""
    user = User.objects.create_user("dora", password="x", first_name="Dora")
    user.groups.add(role)
    return user


@pytest.fixture
def bob() -> User:
    """Given access by name."""
    return User.objects.create_user("bob", password="x")


@pytest.fixture
def charlie() -> User:
    """No access to the mailbox."""
    return User.objects.create_user("charlie", password="x")


@pytest.fixture
def mailbox(role: Group, bob: User, dora: User, charlie: User) -> Mailbox:
    box = save_mailbox(
        MailboxInput(
            label="Support",
            email="support@example.test",
            imap_host="imap.secret-host.test",
            imap_port=10993,
            smtp_host="smtp.secret-host.test",
            smtp_port=10465,
            username="support-login-name",
            processor_kind="case",
            processor_settings={"priority": "normal"},
        ),
        password="s3cret",
    )
    set_folders(box, known=["INBOX"], selected=["INBOX"])
    set_access(box, user_ids=[bob.pk], group_ids=[role.pk])
    return box


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _menu(page: str, field: str) -> str:
    return page.split(f'id="field-{field}"', 1)[1].split("</select>", 1)[0]


def _edit(mailbox: Mailbox, **changes: Any) -> dict[str, Any]:
    """The mailbox's own settings, as its form posts them, with ``changes``."""
    c = mailbox.connection
    return {
        **VALID,
        "imap_host": c.imap_host,
        "imap_port": str(c.imap_port),
        "smtp_host": c.smtp_host,
        "smtp_port": str(c.smtp_port),
        "username": c.username,
        "folders": ["INBOX"],
        "known_folder": ["INBOX"],
        "password": "",
        "processor_kind": "case",
        "roles": [g.pk for g in mailbox.authorized_groups.all()],
        "users": [u.pk for u in mailbox.authorized_users.all()],
        **changes,
    }


# --- The mailbox form ---------------------------------------------------------------------------


def test_the_owner_and_assignee_menus_offer_only_those_who_read_the_mailbox(
    admin: User, mailbox: Mailbox
) -> None:
    page = _client(admin).get(f"/mailboxes/{mailbox.pk}/edit/").content.decode()
    for field in ("case-owner", "case-assignee"):
        menu = _menu(page, field)
        assert '<option value="alice">' in menu  # an administrator
        assert '<option value="bob">' in menu  # given access by name
        assert '<option value="dora">Dora (dora)</option>' in menu  # through the role
        assert "charlie" not in menu


def test_saving_someone_who_cannot_read_the_mailbox_is_refused_at_the_field(
    admin: User, mailbox: Mailbox
) -> None:
    response = _client(admin).post(
        f"/mailboxes/{mailbox.pk}/edit/", _edit(mailbox, **{"case-owner": "charlie"})
    )
    assert response.status_code == 200
    block = response.content.decode().split('id="field-case-owner"', 1)[1].split("</div>\n", 2)
    assert NOT_A_READER in "".join(block[:2])
    mailbox.refresh_from_db()
    assert "owner" not in mailbox.processor_settings


def test_someone_given_access_in_the_same_form_may_be_chosen(
    admin: User, mailbox: Mailbox, bob: User, charlie: User
) -> None:
    data = _edit(mailbox, users=[bob.pk, charlie.pk], **{"case-assignee": "charlie"})
    response = _client(admin).post(f"/mailboxes/{mailbox.pk}/edit/", data)
    assert response.status_code == 302
    mailbox.refresh_from_db()
    assert mailbox.processor_settings["assignee"] == "charlie"
    assert _client(charlie).get(f"/mailboxes/{mailbox.pk}/").status_code == 200


def test_taking_access_away_from_the_owner_in_the_same_form_is_refused(
    admin: User, mailbox: Mailbox
) -> None:
    data = _edit(mailbox, users=[], **{"case-owner": "bob"})
    page = _client(admin).post(f"/mailboxes/{mailbox.pk}/edit/", data).content.decode()
    assert NOT_A_READER in page
    assert mailbox.authorized_users.filter(username="bob").exists()


def test_a_new_mailbox_offers_administrators_and_accepts_the_roles_picked_with_it(
    admin: User, role: Group, dora: User, enqueued: list[tuple[object, ...]]
) -> None:
    client = _client(admin)
    page = client.get("/mailboxes/new/").content.decode()
    menu = _menu(page, "case-owner")
    assert '<option value="alice">' in menu and "dora" not in menu
    refused = client.post(
        "/mailboxes/new/", {**VALID, "processor_kind": "case", "case-owner": "dora"}
    )
    assert NOT_A_READER in refused.content.decode()
    assert not Mailbox.objects.exists()
    # Picked again on the page that says so, with the role now given access: offered, saved.
    assert '<option value="dora"' not in _menu(refused.content.decode(), "case-owner")
    with_role = {**VALID, "processor_kind": "case", "case-owner": "dora", "roles": [role.pk]}
    again = client.post("/mailboxes/new/", with_role)
    assert again.status_code == 302
    assert Mailbox.objects.get().processor_settings["owner"] == "dora"


def test_an_owner_who_lost_access_shows_marked_and_must_be_changed(
    admin: User, mailbox: Mailbox, charlie: User
) -> None:
    Mailbox.objects.filter(pk=mailbox.pk).update(
        processor_settings={"owner": "charlie", "priority": "normal"}
    )
    client = _client(admin)
    menu = _menu(client.get(f"/mailboxes/{mailbox.pk}/edit/").content.decode(), "case-owner")
    assert '<option value="charlie" selected>charlie — cannot read this mailbox</option>' in menu
    data = _edit(mailbox, **{"case-owner": "charlie"})
    assert NOT_A_READER in client.post(f"/mailboxes/{mailbox.pk}/edit/", data).content.decode()
    fixed = _edit(mailbox, **{"case-owner": "dora"})
    assert client.post(f"/mailboxes/{mailbox.pk}/edit/", fixed).status_code == 302


def test_the_access_selects_are_searchable(admin: User, mailbox: Mailbox) -> None:
    page = _client(admin).get(f"/mailboxes/{mailbox.pk}/edit/").content.decode()
    for name in ("roles", "users"):
        tag = (
            page.split(f'name="{name}"', 1)[0].rsplit("<select", 1)[1]
            + page.split(f'name="{name}"', 1)[1].split(">", 1)[0]
        )
        assert "multiple" in tag and "data-searchable" in tag
    assert "mailroom/multiselect.js" in page
    # The owner menus are not multi-selects and are left alone.
    assert "data-searchable" not in _menu(page, "case-owner")


def test_with_no_roles_the_form_links_the_roles_page(admin: User) -> None:
    page = _client(admin).get("/mailboxes/new/").content.decode()
    note = page.split('id="no-roles"', 1)[1].split("</div>", 1)[0]
    assert 'href="/people/roles/"' in note
    assert "Groups" not in note


# --- The CLI and config import ------------------------------------------------------------------


def test_the_cli_refuses_an_owner_who_cannot_read_the_mailbox(
    admin: User, mailbox: Mailbox
) -> None:
    with pytest.raises(CommandError, match="'charlie' cannot read this mailbox"):
        run_cli(
            "mailbox", "edit", str(mailbox.pk), "--processor", "case",
            "--processor-setting", "owner=charlie",
        )  # fmt: skip
    run_cli(
        "mailbox", "edit", str(mailbox.pk), "--processor", "case",
        "--processor-setting", "owner=dora", "--processor-setting", "assignee=alice",
    )  # fmt: skip
    mailbox.refresh_from_db()
    assert mailbox.processor_settings == {"owner": "dora", "assignee": "alice"}


def _document(access: dict[str, list[str]], owner: str) -> dict[str, Any]:
    return {
        "format": "mailroom-config",
        "version": 1,
        "mailboxes": [
            {
                "label": "Sales",
                "email": "sales@example.test",
                "imap": {"enabled": False, "host": "", "port": 993, "encryption": "ssl"},
                "smtp": {"enabled": False, "host": "", "port": 465, "encryption": "ssl"},
                "processor": {"kind": "case", "settings": {"owner": owner}},
                "access": access,
            }
        ],
    }


def test_config_import_refuses_an_owner_who_cannot_read_the_mailbox(
    tmp_path: Path, admin: User, dora: User, charlie: User
) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(_document({"users": [], "roles": ["Support agents"]}, "charlie")))
    with pytest.raises(CommandError, match=r"processor\.settings\.owner: 'charlie' cannot read"):
        run_cli("config", "import", str(path))
    assert not Mailbox.objects.filter(label="Sales").exists()  # all rolled back

    path.write_text(json.dumps(_document({"users": [], "roles": ["Support agents"]}, "dora")))
    run_cli("config", "import", str(path))
    assert Mailbox.objects.get(label="Sales").processor_settings["owner"] == "dora"


# --- Server settings ----------------------------------------------------------------------------

SECRETS = ("secret-host.test", "10993", "10465", "support-login-name", "ssl", "starttls")


def test_the_mailbox_list_shows_the_server_to_administrators_only(
    admin: User, mailbox: Mailbox, bob: User
) -> None:
    assert "imap.secret-host.test:10993" in _client(admin).get("/").content.decode()
    page = _client(bob).get("/").content.decode()
    assert "Support" in page
    for secret in SECRETS:
        assert secret not in page, secret
    assert ">Server<" not in page


def test_readers_never_see_server_settings_on_the_mailbox_page_or_its_progress(
    mailbox: Mailbox, bob: User, dora: User
) -> None:
    for reader in (bob, dora):
        client = _client(reader)
        page = client.get(f"/mailboxes/{mailbox.pk}/").content.decode()
        progress = client.get(f"/mailboxes/{mailbox.pk}/progress/").content.decode()
        assert "Support" in page
        for secret in SECRETS[:4]:
            assert secret not in page and secret not in progress, secret
        assert client.get(f"/mailboxes/{mailbox.pk}/edit/").status_code == 404


# --- Access taken away later --------------------------------------------------------------------


def test_taking_a_role_off_the_mailbox_warns_about_the_owner_it_leaves_without_access(
    admin: User, mailbox: Mailbox, role: Group, dora: User, bob: User
) -> None:
    Mailbox.objects.filter(pk=mailbox.pk).update(
        processor_settings={"owner": "dora", "assignee": "bob", "priority": "normal"}
    )
    client = _client(admin)
    response = client.post(
        f"/people/roles/{role.pk}/", {"name": role.name, "members": [dora.pk]}, follow=True
    )
    page = response.content.decode()
    assert "dora is the owner set in the mailbox “Support” but can no longer read it" in page
    assert "bob is the assignee" not in page  # bob reads it by name

    response = client.post(f"/people/{bob.pk}/deactivate/", follow=True)
    assert "bob is the assignee set in the mailbox “Support”" in response.content.decode()
