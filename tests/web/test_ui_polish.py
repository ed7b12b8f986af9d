"""Usability fixes across the product: destructive buttons that ask first, the login's own
words for a wrong password, the styled 404 and 500 pages, the icon, the Django admin for
superusers only, and inline images kept out of a message's attachments."""

from __future__ import annotations

import base64

import pytest
from django.contrib.auth.models import User
from django.test import Client

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
