"""Sign-in safety: failed logins locked out per account and per address, a clear message on the
login page, the count cleared by a success; sessions that expire; secure cookies over HTTPS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db

PASSWORD = "right-horse-battery-9"
LIMIT = 5


@pytest.fixture
def alice(db: None) -> User:
    return User.objects.create_user("alice@example.test", "alice@example.test", PASSWORD)


def _login(client: Client, username: str, password: str, address: str = "192.0.2.1") -> int:
    response = client.post(
        "/login/", {"username": username, "password": password}, REMOTE_ADDR=address
    )
    return response.status_code


def _logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_the_limits_are_five_failures_and_fifteen_minutes() -> None:
    assert settings.AXES_FAILURE_LIMIT == LIMIT
    assert settings.AXES_COOLOFF_TIME.total_seconds() == 15 * 60
    assert settings.AXES_LOCKOUT_PARAMETERS == ["username", "ip_address"]


def test_it_locks_an_account_after_five_failures_from_anywhere(alice: User) -> None:
    # Each failure from another address: only the account's count reaches the limit, and the
    # fifth failure is answered with the lock-out.
    for i in range(LIMIT):
        status = _login(Client(), alice.username, "wrong", address=f"198.51.100.{i + 1}")
        assert status == (429 if i == LIMIT - 1 else 200)
    client = Client()
    status = _login(client, alice.username, PASSWORD, address="203.0.113.7")
    assert status == 429
    assert not _logged_in(client)
    # The name typed in another case counts against the same account.
    assert _login(Client(), "ALICE@example.test", PASSWORD, address="203.0.113.8") == 429


def test_it_locks_an_address_after_five_failures_whatever_the_account(alice: User) -> None:
    for i in range(LIMIT):
        status = _login(Client(), f"nobody{i}@example.test", "guess")
        assert status == (429 if i == LIMIT - 1 else 200)
    client = Client()
    assert _login(client, alice.username, PASSWORD) == 429
    assert not _logged_in(client)
    # The same account from another address is not affected.
    other = Client()
    assert _login(other, alice.username, PASSWORD, address="192.0.2.99") == 302
    assert _logged_in(other)


def test_the_lockout_is_the_login_page_with_a_clear_message(alice: User) -> None:
    for _ in range(LIMIT):
        _login(Client(), alice.username, "wrong")
    response = Client().post(
        "/login/", {"username": alice.username, "password": PASSWORD}, REMOTE_ADDR="192.0.2.1"
    )
    assert response.status_code == 429
    page = response.content.decode()
    assert 'id="locked-out"' in page
    assert "Too many failed logins" in page and "15 minutes" in page
    # Still the login form, with the account typed.
    assert 'name="password"' in page and 'value="alice@example.test"' in page


def test_a_failure_below_the_limit_says_only_that_the_password_is_wrong(alice: User) -> None:
    response = Client().post("/login/", {"username": alice.username, "password": "wrong"})
    assert response.status_code == 200
    assert "Too many failed logins" not in response.content.decode()


def test_a_successful_login_clears_the_count(alice: User) -> None:
    for _ in range(LIMIT - 1):
        assert _login(Client(), alice.username, "wrong") == 200
    assert _login(Client(), alice.username, PASSWORD) == 302
    for _ in range(LIMIT - 1):
        assert _login(Client(), alice.username, "wrong") == 200
    client = Client()
    assert _login(client, alice.username, PASSWORD) == 302
    assert _logged_in(client)


def test_logging_in_to_ones_own_account_does_not_clear_guesses_at_another(alice: User) -> None:
    mallory = User.objects.create_user("mallory@example.test", "mallory@example.test", "m-pw-1")
    guesses = []
    # A few guesses at Alice's password, then a login to one's own account, again and again.
    for round_ in range(3):
        for i in range(2):
            guesses.append(_login(Client(), alice.username, f"guess-{round_}-{i}"))
        assert _login(Client(), mallory.username, "m-pw-1") in (302, 429)
    # The address made six failed guesses: it is locked, whatever it tries now.
    assert 429 in guesses
    client = Client()
    assert _login(client, alice.username, PASSWORD) == 429
    assert not _logged_in(client)


def test_a_session_lasts_twelve_hours(alice: User) -> None:
    assert settings.SESSION_COOKIE_AGE == 12 * 3600
    client = Client()
    assert _login(client, alice.username, PASSWORD) == 302
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    assert int(cookie["max-age"]) == 12 * 3600
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert not cookie["secure"]  # plain HTTP unless MAILROOM_HTTPS says otherwise
    assert 0 < client.session.get_expiry_age() <= 12 * 3600


_PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client
response = Client().get("/login/", HTTP_X_FORWARDED_PROTO="https")
cookie = response.cookies[settings.CSRF_COOKIE_NAME]
print(json.dumps({
    "session_secure": settings.SESSION_COOKIE_SECURE,
    "session_httponly": settings.SESSION_COOKIE_HTTPONLY,
    "session_samesite": settings.SESSION_COOKIE_SAMESITE,
    "session_age": settings.SESSION_COOKIE_AGE,
    "browser_close": settings.SESSION_EXPIRE_AT_BROWSER_CLOSE,
    "csrf_cookie_secure": bool(cookie["secure"]),
    "csrf_cookie_samesite": cookie["samesite"],
    "hsts": response.get("Strict-Transport-Security", ""),
    "failure_limit": settings.AXES_FAILURE_LIMIT,
}))
"""


def _settings_under(tmp_path: Path, **env: str) -> dict[str, object]:
    """The settings ``mailroom`` starts with under ``env``, and what /login/ answers over HTTPS."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MAILROOM_") and k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")
    }
    clean.update(
        DJANGO_SETTINGS_MODULE="mailroom.settings",
        MAILROOM_DATA_DIR=str(tmp_path),
        MAILROOM_HOSTS="testserver",
        **env,
    )
    result = subprocess.run(
        [sys.executable, "-c", _PROBE],
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    loaded: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


def test_over_https_cookies_are_secure_and_hsts_is_sent(tmp_path: Path) -> None:
    found = _settings_under(tmp_path, MAILROOM_HTTPS="1")
    assert found["session_secure"] is True and found["csrf_cookie_secure"] is True
    assert found["session_httponly"] is True
    assert found["session_samesite"] == "Lax" and found["csrf_cookie_samesite"] == "Lax"
    assert found["hsts"] == "max-age=86400"


def test_without_https_cookies_are_not_secure_and_no_hsts(tmp_path: Path) -> None:
    found = _settings_under(tmp_path)
    assert found["session_secure"] is False and found["csrf_cookie_secure"] is False
    assert found["hsts"] == ""


def test_the_limits_and_the_session_are_set_from_the_environment(tmp_path: Path) -> None:
    found = _settings_under(
        tmp_path,
        MAILROOM_LOGIN_FAILURE_LIMIT="3",
        MAILROOM_SESSION_HOURS="2",
        MAILROOM_SESSION_BROWSER_CLOSE="1",
    )
    assert found["failure_limit"] == 3
    assert found["session_age"] == 2 * 3600
    assert found["browser_close"] is True
