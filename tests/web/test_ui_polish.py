"""Usability fixes across the product: destructive buttons that ask first, the login's own
words for a wrong password, the styled 404 and 500 pages, the icon, the Django admin for
superusers only, and inline images kept out of a message's attachments."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.contrib.staticfiles import finders
from django.template import engines
from django.test import Client

from mailroom.crm.lists import ensure_default_lead_sources
from mailroom.models import LeadSource
from mailroom.people.signin import WRONG_LOGIN
from tests.pipeline.helpers import mailbox as make_mailbox
from tests.pipeline.helpers import stored

pytestmark = pytest.mark.django_db

STYLESHEET = '<link rel="stylesheet" href="/static/mailroom/mailroom.css">'
ICON = '<link rel="icon" href="/static/mailroom/icon.svg" type="image/svg+xml">'


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def superuser() -> User:
    return User.objects.create_superuser("root@example.test", "root@example.test", "pw-root-1")


@pytest.fixture
def staff() -> User:
    """An administrator of mailroom (its People, lists, mailboxes) who is no superuser."""
    return User.objects.create_user(
        "staff@example.test", "staff@example.test", "pw-staff-1", is_staff=True
    )


@pytest.fixture
def agent() -> User:
    return User.objects.create_user("agent@example.test", "agent@example.test", "pw-agent-1")


# 1. Destructive actions ask first.


def _confirm_of(page: str, button_id: str) -> str:
    match = re.search(rf'<button[^>]*id="{button_id}"[^>]*>', page)
    assert match, button_id
    question = re.search(r'data-confirm="([^"]+)"', match.group(0))
    assert question, match.group(0)
    return question.group(1)


def test_it_asks_before_resetting_a_password_or_deactivating(superuser: User, agent: User) -> None:
    page = _client(superuser).get(f"/people/{agent.pk}/").content.decode()
    assert "agent@example.test?" in _confirm_of(page, "reset-password")
    assert _confirm_of(page, "deactivate").startswith("Deactivate agent@example.test?")
    # The question is asked by the page's own script, loaded on every page.
    assert '<script src="/static/mailroom/confirm.js" defer></script>' in page
    assert finders.find("mailroom/confirm.js")


def test_it_asks_before_deleting_a_lead_source_and_deletes_without_javascript(
    staff: User,
) -> None:
    ensure_default_lead_sources()
    source = LeadSource.objects.get(name="Email")
    client = _client(staff)
    page = client.get("/lead-sources/").content.decode()
    deletes = re.findall(r'<button[^>]*value="delete"[^>]*>', page)
    assert deletes
    assert all("data-confirm=" in button for button in deletes)
    assert "Delete the lead source “Email”? This cannot be undone." in page
    # The question is the browser's: the post itself is what it was.
    client.post(f"/lead-sources/{source.pk}/", {"action": "delete"})
    assert not LeadSource.objects.filter(pk=source.pk).exists()


# 2. A wrong password is told in the login page's own words.


def test_a_wrong_login_is_told_without_saying_which_part_was_wrong(agent: User) -> None:
    for username, password in [
        ("agent@example.test", "wrong"),  # a wrong password
        ("nobody@example.test", "pw-agent-1"),  # no such account
    ]:
        page = Client().post("/login/", {"username": username, "password": password})
        text = page.content.decode()
        assert page.status_code == 200
        assert WRONG_LOGIN in text
        assert "Please enter a correct" not in text
    # A deactivated account gets the same words: a login does not tell who has an account.
    agent.is_active = False
    agent.save()
    text = Client().post("/login/", {"username": agent.username, "password": "pw-agent-1"})
    assert WRONG_LOGIN in text.content.decode()


# 3. and 4. The 404 page in the product's look, the 500 page static, the icon.


def test_a_missing_page_is_the_products_404_for_everyone_with_the_same_words(
    agent: User, staff: User
) -> None:
    box = make_mailbox()
    message = stored(box)
    # Pages that never existed, and things that exist but are not the agent's to see.
    missing = ["/no-such-page/", "/messages/999999/", f"/mailboxes/{box.pk + 1000}/"]
    hidden = [f"/mailboxes/{box.pk}/", f"/messages/{message.pk}/", "/people/", "/admin/"]
    asked = [(Client(), ["/no-such-page/", "/admin/"]), (_client(agent), missing + hidden)]
    asked.append((_client(staff), missing))
    bodies = set()
    for client, urls in asked:
        for url in urls:
            response = client.get(url)
            assert response.status_code == 404, url
            page = response.content.decode()
            assert STYLESHEET in page and ICON in page
            assert "<h1>Page not found</h1>" in page
            assert url not in page
            # The words, without the header (whose name and menu differ per person).
            bodies.add(page[page.index('<main id="content"') :])
    assert len(bodies) == 1
    # Byte for byte: a hidden thing's 404 is a missing thing's.
    client = _client(agent)
    assert client.get(f"/messages/{message.pk}/").content == client.get(missing[1]).content
    # A person who is logged in still has the header and its menu to go on from.
    page = client.get("/no-such-page/").content.decode()
    assert '<header class="top">' in page and 'href="/cases/"' in page


def test_the_server_error_page_needs_no_request_nor_database() -> None:
    page = engines["django"].get_template("500.html").render()
    assert STYLESHEET in page and ICON in page
    assert "Something went wrong" in page


def test_every_page_names_the_icon_and_favicon_ico_leads_to_it(agent: User) -> None:
    page = _client(agent).get("/").content.decode()
    assert ICON in page
    icon = finders.find("mailroom/icon.svg")
    assert isinstance(icon, str)
    assert Path(icon).read_text().startswith("<svg ")
    response = Client().get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == "/static/mailroom/icon.svg"


# 5. The Django admin exists for superusers only.

ADMIN_URLS = [
    "/admin/",
    "/admin/login/",
    "/admin/auth/user/",
    "/admin/auth/user/1/change/",
    "/admin/auth",
    "/admin/mailroom/leadsource/",
    "/admin/password_change/",
    "/admin/no-such-thing/",
]


def test_the_admin_is_a_404_to_anyone_but_a_superuser(agent: User, staff: User) -> None:
    not_found = Client().get("/no-such-page/").content
    for client in (Client(), _client(agent), _client(staff)):
        for url in ADMIN_URLS:
            response = client.get(url)
            assert response.status_code == 404, url
            assert b"Page not found" in response.content
        # Logging in through the admin's own form is no way in either.
        response = client.post("/admin/login/", {"username": "x", "password": "y"})
        assert response.status_code == 404
    assert b"Page not found" in not_found


def test_a_staff_member_cannot_log_in_through_the_admin(staff: User) -> None:
    client = Client()
    response = client.post("/admin/login/", {"username": staff.username, "password": "pw-staff-1"})
    assert response.status_code == 404
    assert "_auth_user_id" not in client.session


def test_a_superuser_still_uses_the_admin(superuser: User) -> None:
    client = _client(superuser)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/auth/user/").status_code == 200
    assert client.get(f"/admin/auth/user/{superuser.pk}/change/").status_code == 200
    assert client.get("/admin/mailroom/leadsource/").status_code == 200
    assert client.get("/admin/axes/accessattempt/").status_code == 200
    # Logged in already, the admin's login page sends a superuser on to the index.
    assert client.get("/admin/login/")["Location"] == "/admin/"
    # A superuser logs in on mailroom's login page, then opens the admin.
    fresh = Client()
    fresh.post("/login/", {"username": superuser.username, "password": "pw-root-1"})
    assert fresh.get("/admin/").status_code == 200


# 6. Inline images belong to the body, not to the attachments.

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/PchI7wAAAABJRU5ErkJggg=="
)


def _mail_with_inline_image() -> bytes:
    image = base64.b64encode(PNG)
    return b"\r\n".join(
        [
            b"From: Ann Buyer <ann@customer.test>",
            b"To: support@example.test",
            b"Subject: Our logo",
            b"Message-ID: <inline-1@customer.test>",
            b"MIME-Version: 1.0",
            b'Content-Type: multipart/mixed; boundary="mixed"',
            b"",
            b"--mixed",
            b'Content-Type: multipart/related; boundary="related"',
            b"",
            b"--related",
            b"Content-Type: text/html; charset=utf-8",
            b"",
            b'<p>Our logo:</p><img src="cid:logo@customer.test">',
            b'<img src="CID:Second@Customer.test">',
            b"--related",
            b"Content-Type: image/png",
            b"Content-ID: <logo@customer.test>",
            b"Content-Disposition: inline",
            b"Content-Transfer-Encoding: base64",
            b"",
            image,
            b"--related",
            b'Content-Type: image/png; name="second.png"',
            b"Content-ID: <second@customer.test>",
            b"Content-Transfer-Encoding: base64",
            b"",
            image,
            b"--related",
            # A Content-ID the HTML never refers to: shown nowhere else, it stays listed.
            b'Content-Type: application/pdf; name="terms.pdf"',
            b"Content-ID: <terms@customer.test>",
            b"Content-Transfer-Encoding: base64",
            b"",
            base64.b64encode(b"%PDF-1.4 terms"),
            b"--related--",
            b"--mixed",
            b'Content-Type: text/csv; name="prices.csv"',
            b'Content-Disposition: attachment; filename="prices.csv"',
            b"",
            b"item,price",
            b"--mixed--",
            b"",
        ]
    )


def test_inline_images_are_not_listed_as_attachments(superuser: User) -> None:
    box = make_mailbox()
    message = stored(box, _mail_with_inline_image())
    assert message.attachments.count() == 4
    page = _client(superuser).get(f"/messages/{message.pk}/").content.decode()
    card = page[page.index('id="attachments"') :]
    card = card[: card.index("</div>")]
    listed = card[: card.index('id="inline-images"')]
    inline = card[card.index('id="inline-images"') :]
    assert "prices.csv" in listed and "terms.pdf" in listed
    assert "(unnamed)" not in card and "inline image" not in listed
    assert "inline image 1" in inline and "second.png" in inline
    assert "Inline images, shown in the message" in inline


def test_a_message_without_inline_images_has_no_inline_line(superuser: User) -> None:
    box = make_mailbox()
    message = stored(box)
    page = _client(superuser).get(f"/messages/{message.pk}/").content.decode()
    assert 'id="attachments"' not in page and 'id="inline-images"' not in page
