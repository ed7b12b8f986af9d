"""Usability fixes across the product: destructive buttons that ask first, the login's own
words for a wrong password, the styled 404 and 500 pages, the icon, the Django admin for
superusers only, and inline images kept out of a message's attachments."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from mailroom.people.signin import WRONG_LOGIN

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
