"""Threats S07 and S19: "Check connection" as a password-guessing proxy. Thirty checks in a
minute with wrong passwords against the real Dovecot: past the limit the page answers 429,
Dovecot sees no more password checks, and every check is in the audit log (linked from the
Health page)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from mailroom import conf
from mailroom.models import CheckOutcome, ConnectionCheck, Mailbox
from tests.servers.fixtures import ImapAccount
from tests.web.test_mailbox_form import VALID

pytestmark = pytest.mark.django_db

LIMIT = 4


def _admin(name: str) -> Client:
    client = Client()
    client.force_login(User.objects.create_user(name, f"{name}@example.test", is_staff=True))
    return client


def _check(client: Client, account: ImapAccount, password: str) -> tuple[int, str]:
    data = {
        **VALID,
        "imap_host": account.host,
        "imap_port": str(account.port),
        "imap_encryption": "none",
        "smtp_enabled": "",
        "username": account.username,
        "password": password,
        "check": "1",
    }
    data.pop("save")
    response = client.post("/mailboxes/new/", data, REMOTE_ADDR="192.0.2.7")
    return response.status_code, response.content.decode()


def test_thirty_checks_a_minute_are_refused_past_the_limit_and_logged(
    imap_account: ImapAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conf, "CHECKS_PER_MINUTE", LIMIT)
    mallory = _admin("mallory")
    server, user = imap_account.server, imap_account.username

    results = [_check(mallory, imap_account, f"guess-{n}") for n in range(30)]

    statuses = [status for status, _ in results]
    assert statuses == [200] * LIMIT + [429] * (30 - LIMIT)
    # Only the allowed checks reached the server: one password check each.
    assert server.auth_failure_count(user) == LIMIT
    refused = results[-1][1]
    assert f"Too many connection checks: at most {LIMIT} a minute." in refused
    assert "guess-29" not in refused  # the typed password is never echoed
    assert not Mailbox.objects.exists()

    outcomes = list(ConnectionCheck.objects.order_by("id").values_list("outcome", flat=True))
    assert outcomes == [CheckOutcome.FAILED] * LIMIT + [CheckOutcome.REFUSED] * (30 - LIMIT)
    first = ConnectionCheck.objects.order_by("id").first()
    assert first is not None
    assert (first.user and first.user.username, first.address) == ("mallory", "192.0.2.7")
    assert (first.imap_host, first.imap_port, first.username) == (
        imap_account.host,
        imap_account.port,
        imap_account.username,
    )
    assert "IMAP:" in first.error
    assert not ConnectionCheck.objects.filter(error__contains="guess-").exists()

    # The limit is per person: another administrator checks at once, and it works.
    status, page = _check(_admin("alice"), imap_account, imap_account.password)
    assert status == 200 and "Connection works" in page
    assert ConnectionCheck.objects.filter(outcome=CheckOutcome.WORKED).count() == 1

    # The audit log is linked from the Health page.
    assert 'href="/health/checks/"' in mallory.get("/health/").content.decode()
    section = mallory.get("/health/checks/").content.decode().split('id="checks"', 1)[1]
    # The page lists the latest 20: alice's, then 19 of mallory's refused ones.
    assert section.count("refused (too many checks)") == 19
    assert "alice@example.test" in section and "worked" in section


def test_a_check_allowed_again_once_the_minute_has_passed(
    imap_account: ImapAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conf, "CHECKS_PER_MINUTE", 1)
    client = _admin("bob")
    assert _check(client, imap_account, imap_account.password)[0] == 200
    status, page = _check(client, imap_account, imap_account.password)
    assert status == 429 and "Try again in " in page

    # A minute later (the log's clock moved back rather than the test sleeping).
    ConnectionCheck.objects.update(
        at=ConnectionCheck.objects.get(outcome="worked").at.replace(year=2000)
    )
    status, page = _check(client, imap_account, imap_account.password)
    assert status == 200 and "Connection works" in page
