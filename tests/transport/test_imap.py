"""The IMAP session against a real Dovecot: refusals classified, missing UIDs, TLS context use."""

from __future__ import annotations

import secrets
import ssl
from collections.abc import Iterator
from typing import Any

import pytest

from mailroom.transport.errors import AuthFailed, ServerBusy, classify
from mailroom.transport.imap import ImapSession, ImapSettings
from tests.servers.dovecot import DovecotServer, dovecot_installed
from tests.servers.fixtures import ImapAccount

RAW = b"From: a@customer.test\r\nTo: support@example.test\r\nSubject: hi\r\n\r\nbody\r\n"


def _settings(host: str, port: int, username: str, password: str) -> ImapSettings:
    return ImapSettings(
        host=host,
        port=port,
        encryption="none",
        username=username,
        password=password,
        timeout=5.0,
        allowed_hosts=("127.0.0.1",),
    )


def _account_settings(account: ImapAccount, password: str | None = None) -> ImapSettings:
    return _settings(
        account.host,
        account.port,
        account.username,
        account.password if password is None else password,
    )


def test_plain_sessions_never_build_a_tls_context(
    imap_account: ImapAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real = ssl.create_default_context

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counting)
    for _ in range(5):
        with ImapSession(_account_settings(imap_account)) as session:
            session.list_folders()
    assert calls == []


def test_a_wrong_password_is_an_auth_failure(imap_account: ImapAccount) -> None:
    with pytest.raises(AuthFailed) as caught:
        ImapSession(_account_settings(imap_account, password="wrong")).__enter__()
    assert classify(caught.value).kind == "auth"


@pytest.fixture(scope="module")
def one_connection_dovecot() -> Iterator[DovecotServer]:
    """A Dovecot that allows a single connection per user and IP (F15)."""
    if not dovecot_installed():
        pytest.skip("dovecot is not installed; run scripts/install-test-deps.sh")
    with DovecotServer(max_userip_connections=1) as server:
        yield server


def test_a_login_over_the_connection_limit_is_transient_not_an_auth_failure(
    one_connection_dovecot: DovecotServer,
) -> None:
    server = one_connection_dovecot
    username = f"busy-{secrets.token_hex(4)}@example.test"
    password = secrets.token_urlsafe(12)
    server.add_user(username, password)
    settings = _settings(server.host, server.port, username, password)
    with ImapSession(settings), pytest.raises(ServerBusy) as caught:
        # Dovecot answers "NO [LIMIT] Maximum number of connections from user+IP exceeded".
        ImapSession(settings).__enter__()
    assert caught.value.permanent is False
    assert "Maximum number of connections" in str(caught.value)
    assert classify(caught.value).kind == "transient"
    # Once the first session is gone, the same credentials work again.
    with ImapSession(settings) as session:
        session.list_folders()


def test_fetch_leaves_out_uids_the_server_does_not_return_and_fetch_one_retries(
    imap_account: ImapAccount,
) -> None:
    first = imap_account.append("INBOX", RAW)
    second = imap_account.append("INBOX", RAW.replace(b"hi", b"again"))
    gone = second + 100
    with ImapSession(_account_settings(imap_account)) as session:
        session.examine("INBOX")
        fetched = session.fetch([first, gone, second])
        assert [m.uid for m in fetched] == [first, second]
        one = session.fetch_one(second)
        missing = session.fetch_one(gone)
    assert one is not None
    assert one.uid == second
    assert one.raw == fetched[1].raw
    assert missing is None
