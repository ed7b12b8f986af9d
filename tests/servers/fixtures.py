"""pytest fixtures for the loopback servers.

Import them into a conftest with ``from tests.servers.fixtures import *``:

- ``dovecot``: one `DovecotServer` for the whole session.
- ``imap_account``: a fresh user on it for each test (an `ImapAccount`).
- ``smtp_sink``: a fresh `SmtpSink` for each test, with optional AUTH.

Without Dovecot installed the IMAP fixtures skip, except when the CI
environment variable is set, where they fail: CI must run them.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from imapclient import IMAPClient

from tests.servers.dovecot import DovecotServer, dovecot_installed
from tests.servers.smtp import SmtpSink

__all__ = ["ImapAccount", "dovecot", "imap_account", "smtp_sink"]

_user_numbers = itertools.count(1)


@dataclass(frozen=True)
class ImapAccount:
    """Credentials of one test user on the session's Dovecot, plus shortcuts."""

    host: str
    port: int
    username: str
    password: str
    server: DovecotServer

    def client(self) -> IMAPClient:
        """An IMAPClient logged in as this user; the caller logs out."""
        return self.server.client(self.username, self.password)

    def append(
        self,
        folder: str,
        raw: bytes,
        flags: Sequence[str | bytes] = (),
        msg_time: datetime | None = None,
    ) -> int:
        """APPEND ``raw`` to ``folder`` and return its UID."""
        return self.server.append(self.username, self.password, folder, raw, flags, msg_time)

    def create_folder(self, name: str) -> None:
        """CREATE ``name`` on the server."""
        self.server.create_folder(self.username, self.password, name)

    def deliver(self, raw: bytes, folder: str = "INBOX") -> Path:
        """Drop ``raw`` into the Maildir as an MDA would; see `deliver_maildir`."""
        return self.server.deliver_maildir(self.username, folder, raw)


def require_dovecot() -> None:
    """Skip without Dovecot on a developer's machine; fail in CI, which must have it."""
    if not dovecot_installed():
        message = "dovecot is not installed; run scripts/install-test-deps.sh"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    """A Dovecot IMAP server on 127.0.0.1, shared by the whole test session."""
    require_dovecot()
    with DovecotServer() as server:
        yield server


@pytest.fixture
def imap_account(dovecot: DovecotServer) -> ImapAccount:
    """A new user with a random password and an empty mailbox."""
    username = f"user{next(_user_numbers)}-{secrets.token_hex(4)}@example.test"
    password = secrets.token_urlsafe(12)
    dovecot.add_user(username, password)
    return ImapAccount(dovecot.host, dovecot.port, username, password, dovecot)


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """An SMTP sink on 127.0.0.1 recording every message.

    AUTH PLAIN/LOGIN is offered (not required) with ``smtp_sink.username`` and
    ``smtp_sink.password``.
    """
    with SmtpSink(username="sink-user", password=secrets.token_urlsafe(12)) as sink:
        yield sink
