"""The mailbox form: bad values are shown at their field and nothing is saved."""

from __future__ import annotations

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
    "priority": "normal",
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
