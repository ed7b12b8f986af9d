"""The mailbox form: bad values are shown at their field and nothing is saved."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from mailroom.models import Mailbox, SalesChannel
from tests.servers.fixtures import ImapAccount
from tests.servers.smtp import SmtpSink

pytestmark = pytest.mark.django_db

VALID = {
    "label": "Support",
    "email": "support@example.test",
    "account_type": "other",
    "imap_enabled": "on",
    "imap_host": "imap.example.test",
    "imap_port": "993",
    "imap_encryption": "ssl",
    "smtp_enabled": "on",
    "smtp_host": "smtp.example.test",
    "smtp_port": "465",
    "smtp_encryption": "ssl",
    "username": "support",
    "password": "pw-1",
    "processor_kind": "none",
    "case-priority": "normal",
    "save": "1",
}


@pytest.fixture
def client() -> Client:
    client = Client()
    client.force_login(User.objects.create_user("alice", password="x", is_staff=True))
    return client


def test_it_saves_a_valid_mailbox(client: Client) -> None:
    response = client.post("/mailboxes/new/", VALID)
    mailbox = Mailbox.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/mailboxes/{mailbox.pk}/"
    assert mailbox.connection.password == "pw-1"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("label", "", "This field is required."),
        ("email", "not-an-address", "Enter a valid email address."),
        ("imap_host", "bad host", "This is not a valid host name."),
        ("imap_host", "", "Enter the server&#x27;s host name."),
        ("imap_port", "70000", "Ensure this value is less than or equal to 65535."),
        ("username", "a\r\nb", "The user name cannot contain line breaks."),
    ],
)
def test_it_shows_a_bad_value_at_its_field_and_saves_nothing(
    client: Client, field: str, value: str, message: str
) -> None:
    page = client.post("/mailboxes/new/", {**VALID, field: value}).content.decode()
    block = page.split(f'id="field-{field}"', 1)[1].split('<div class="field', 1)[0]
    assert message in block
    assert not Mailbox.objects.exists()
    assert "pw-1" not in page


def test_it_asks_for_a_sales_channel_before_converting_to_leads(client: Client) -> None:
    page = client.post("/mailboxes/new/", {**VALID, "processor_kind": "lead"}).content.decode()
    assert "needs an active sales channel" in page
    assert not Mailbox.objects.exists()
    SalesChannel.objects.create(name="Direct")
    assert client.post("/mailboxes/new/", {**VALID, "processor_kind": "lead"}).status_code == 302


def test_it_keeps_the_stored_password_when_the_field_is_left_empty(client: Client) -> None:
    client.post("/mailboxes/new/", VALID)
    mailbox = Mailbox.objects.get()
    client.post(f"/mailboxes/{mailbox.pk}/edit/", {**VALID, "password": "", "label": "Help"})
    mailbox.refresh_from_db()
    assert mailbox.label == "Help"
    assert mailbox.connection.password == "pw-1"


def test_it_asks_for_the_password_of_a_new_mailbox(client: Client) -> None:
    page = client.post("/mailboxes/new/", {**VALID, "password": ""}).content.decode()
    block = page.split('id="field-password"', 1)[1].split('<div class="field', 1)[0]
    assert "Enter the password" in block
    assert "Nothing was saved" in page
    assert not Mailbox.objects.exists()


def test_it_ignores_a_forged_sealed_password(client: Client) -> None:
    page = client.post(
        "/mailboxes/new/", {**VALID, "password": "", "sealed_password": "gAAAAA-forged"}
    ).content.decode()
    assert "Enter the password" in page
    assert not Mailbox.objects.exists()


def _check(client: Client, imap_account: ImapAccount, **overrides: str) -> str:
    data = {
        **VALID,
        "imap_host": imap_account.host,
        "imap_port": str(imap_account.port),
        "imap_encryption": "none",
        "smtp_encryption": "none",
        "username": imap_account.username,
        "password": imap_account.password,
        "check": "1",
        **overrides,
    }
    data.pop("save")
    return client.post("/mailboxes/new/", data).content.decode()


def test_it_checks_smtp_too_and_shows_its_error_at_the_smtp_host(
    client: Client, imap_account: ImapAccount, smtp_server: SmtpSink
) -> None:
    page = _check(client, imap_account, smtp_host=smtp_server.host, smtp_port="1")
    block = page.split('id="field-smtp_host"', 1)[1].split('<div class="field', 1)[0]
    assert "SMTP: " in block and "refused the connection" in block
    assert 'value="INBOX"' in page  # IMAP worked: the folders are offered
    assert imap_account.password not in page
    assert not Mailbox.objects.exists()


def test_it_shows_a_refused_smtp_login_at_the_password(
    client: Client, imap_account: ImapAccount
) -> None:
    with SmtpSink(username="someone-else", password="other", auth_required=True) as sink:
        page = _check(client, imap_account, smtp_host=sink.host, smtp_port=str(sink.port))
    block = page.split('id="field-password"', 1)[1].split('<div class="field', 1)[0]
    assert "SMTP: the SMTP server refused the user name or password" in block


def test_it_shows_an_undecryptable_stored_password_at_the_password_field(
    client: Client,
) -> None:
    client.post("/mailboxes/new/", VALID)
    mailbox = Mailbox.objects.get()
    # As after a restore with the wrong MAILROOM_CREDENTIAL_KEYS.
    type(mailbox.connection).objects.filter(pk=mailbox.connection.pk).update(
        password_encrypted="gAAAAA-not-decryptable"
    )
    data = {**VALID, "password": "", "check": "1"}
    page = client.post(f"/mailboxes/{mailbox.pk}/edit/", data).content.decode()
    block = page.split('id="field-password"', 1)[1].split('<div class="field', 1)[0]
    assert "cannot be decrypted" in block


@pytest.mark.parametrize("action", ["check", "save"])
def test_it_never_sends_the_stored_password_to_a_changed_server(
    client: Client, imap_account: ImapAccount, action: str
) -> None:
    client.post("/mailboxes/new/", VALID)
    mailbox = Mailbox.objects.get()
    # An administrator points the mailbox at another server without retyping the password.
    data = {**VALID, "imap_host": imap_account.host, "imap_port": str(imap_account.port)}
    data.update({"imap_encryption": "none", "password": ""})
    if action == "check":
        data.pop("save")
        data["check"] = "1"
    # Any connection, logged in or refused, leaves an imap-login line in Dovecot's log.
    connections_before = imap_account.server.log.count("imap-login:")

    page = client.post(f"/mailboxes/{mailbox.pk}/edit/", data).content.decode()

    block = page.split('id="field-password"', 1)[1].split('<div class="field', 1)[0]
    assert "Enter the password again" in block
    assert imap_account.server.log.count("imap-login:") == connections_before
    mailbox.refresh_from_db()
    assert mailbox.connection.imap_host == "imap.example.test"


def test_it_ignores_folder_names_the_server_cannot_have_listed(client: Client) -> None:
    injected = "INBOX\r\nA1 DELETE INBOX"
    data = {**VALID, "known_folder": ["INBOX", injected], "folders": ["INBOX"]}
    assert client.post("/mailboxes/new/", data).status_code == 302
    assert list(Mailbox.objects.get().folders.values_list("name", flat=True)) == ["INBOX"]


def _edit(client: Client, mailbox: Mailbox, **changes: str) -> str:
    return client.post(f"/mailboxes/{mailbox.pk}/edit/", {**VALID, **changes}).content.decode()


def _block(page: str, field: str) -> str:
    return page.split(f'id="field-{field}"', 1)[1].split('<div class="field', 1)[0]


@pytest.mark.parametrize(
    ("field", "value"),
    [("imap_host", "imap.elsewhere.test"), ("imap_port", "143"), ("username", "other")],
)
def test_it_warns_before_connecting_a_different_account_and_saves_nothing(
    client: Client, field: str, value: str
) -> None:
    client.post("/mailboxes/new/", VALID)
    mailbox = Mailbox.objects.get()

    page = _edit(client, mailbox, **{field: value, "password": "pw-2", "label": "Renamed"})

    top = page.split('id="new-account"', 1)[1].split("</div>", 1)[0]
    assert "This connects a different account: a new mailbox account will be registered" in top
    assert "mail already stored stays, marked as from the earlier account" in top
    assert 'name="confirm_new_account"' in page
    assert "connects a different account" in _block(page, field)
    assert 'id="history"' in page  # the history choice of the new account
    assert re.search(r'value="none"[^>]*checked', page)
    assert "please correct the fields" not in page  # nothing is wrong, it needs a yes
    after = Mailbox.objects.get()
    assert (after.label, after.account_version) == ("Support", mailbox.account_version)
    assert after.connection.password == "pw-1"
    assert getattr(after.connection, field) == getattr(mailbox.connection, field)


def test_it_keeps_the_typed_password_sealed_until_the_new_account_is_confirmed(
    client: Client,
) -> None:
    client.post("/mailboxes/new/", VALID)
    mailbox = Mailbox.objects.get()
    moved = {**VALID, "imap_host": "imap.elsewhere.test"}
    page = _edit(client, mailbox, **{**moved, "password": "pw-2"})
    assert "pw-2" not in page
    sealed = re.search(r'name="sealed_password" value="([^"]+)"', page)
    assert sealed is not None
    assert "The password you typed is kept" in page

    response = client.post(
        f"/mailboxes/{mailbox.pk}/edit/",
        {**moved, "password": "", "sealed_password": sealed[1], "confirm_new_account": "on"},
    )

    assert response.status_code == 302
    after = Mailbox.objects.get()
    assert (after.connection.imap_host, after.connection.password) == (
        "imap.elsewhere.test",
        "pw-2",
    )


def test_it_registers_a_new_account_once_confirmed(client: Client) -> None:
    client.post("/mailboxes/new/", VALID)
    mailbox = Mailbox.objects.get()

    response = client.post(
        f"/mailboxes/{mailbox.pk}/edit/",
        {
            **VALID,
            "imap_host": "imap.elsewhere.test",
            "password": "pw-2",
            "confirm_new_account": "on",
            "history_mode": "days",
            "history_days": "7",
            "history_convert": "on",
        },
        follow=True,
    )

    after = Mailbox.objects.get()
    assert after.account_version == mailbox.account_version + 1
    assert after.connection.imap_host == "imap.elsewhere.test"
    assert after.connection.password == "pw-2"
    assert (after.history_mode, after.history_days, after.history_convert) == ("days", 7, True)
    assert "A new mailbox account was registered" in response.content.decode()


def test_it_still_asks_for_the_password_of_the_new_account(client: Client) -> None:
    client.post("/mailboxes/new/", VALID)
    mailbox = Mailbox.objects.get()
    page = _edit(
        client, mailbox, imap_host="imap.elsewhere.test", password="", confirm_new_account="on"
    )
    assert "Enter the password again" in _block(page, "password")
    assert Mailbox.objects.get().connection.imap_host == "imap.example.test"


def test_it_saves_other_changes_without_asking(client: Client) -> None:
    client.post("/mailboxes/new/", {**VALID, "history_mode": "all"})
    mailbox = Mailbox.objects.get()
    page = client.get(f"/mailboxes/{mailbox.pk}/edit/").content.decode()
    assert 'id="history"' not in page
    assert "Saving again never moves this cut-off" in page

    response = client.post(
        f"/mailboxes/{mailbox.pk}/edit/",
        {**VALID, "password": "", "label": "Help", "history_mode": "none"},
    )

    assert response.status_code == 302
    after = Mailbox.objects.get()
    assert after.label == "Help"
    assert after.account_version == mailbox.account_version
    assert after.account_started_at == mailbox.account_started_at
    assert after.history_mode == "all"  # the cut-off of the same account never moves


def test_it_does_not_warn_for_a_mailbox_that_had_no_imap_host(client: Client) -> None:
    client.post("/mailboxes/new/", {**VALID, "imap_enabled": "", "imap_host": ""})
    mailbox = Mailbox.objects.get()
    response = client.post(f"/mailboxes/{mailbox.pk}/edit/", {**VALID, "password": "pw-2"})
    assert response.status_code == 302
    assert Mailbox.objects.get().connection.imap_host == "imap.example.test"


def test_it_offers_the_history_choice_when_a_mailbox_is_added(client: Client) -> None:
    page = client.get("/mailboxes/new/").content.decode()
    history = page.split('id="history"', 1)[1].split("</fieldset>", 1)[0]
    assert "Import existing mail" in history
    for choice in ("None (default)", "Last N days", "All"):
        assert choice in history
    assert "Convert imported history to Leads/Cases" in page
    assert "stored and threaded, but never answered" in page
    assert "saving the mailbox again never moves it" in page
    assert re.search(r'value="none"[^>]*checked', page)  # None is the default


def test_it_stores_the_history_choice_of_a_new_mailbox(client: Client) -> None:
    page = client.post("/mailboxes/new/", {**VALID, "history_mode": "days"}).content.decode()
    assert "Enter how many days" in _block(page, "history_days")
    assert not Mailbox.objects.exists()

    client.post("/mailboxes/new/", {**VALID, "history_mode": "days", "history_days": "30"})

    mailbox = Mailbox.objects.get()
    assert (mailbox.history_mode, mailbox.history_days, mailbox.history_convert) == (
        "days",
        30,
        False,
    )
    assert mailbox.account_started_at is not None


def test_it_syncs_the_selected_folders_of_a_saved_mailbox_at_once(
    client: Client,
    enqueued: list[tuple[object, ...]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    data = {**VALID, "known_folder": ["INBOX", "Archive"], "folders": ["INBOX"]}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/mailboxes/new/", data, follow=True)
    inbox = Mailbox.objects.get().folders.get(name="INBOX")
    assert enqueued == [("sync_folder", inbox.pk, True)]
    assert "Sync requested" in response.content.decode()
