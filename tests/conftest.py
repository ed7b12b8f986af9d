"""Shared fixtures: the real Dovecot and SMTP servers, users, and a mailbox wired to them."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from mailroom.models import Mailbox
from tests.faults.processes import drop_databases
from tests.servers.fixtures import *  # noqa: F403
from tests.servers.fixtures import ImapAccount
from tests.servers.smtp import SmtpSink


@pytest.fixture(scope="session", autouse=True)
def _installation_databases() -> Iterator[None]:
    """Drop the PostgreSQL databases of the installations run in subprocesses."""
    yield
    drop_databases()


@pytest.fixture
def admin_user(db: None) -> User:
    return User.objects.create_superuser("admin@example.test", "admin@example.test", "pw-admin-1")


def run_cli(*args: str, stdin: str = "") -> str:
    """Run a ``mailroom`` management command in-process; return what it printed."""
    out = io.StringIO()
    old_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        call_command(*args, stdout=out)
    finally:
        sys.stdin = old_stdin
    return out.getvalue()


@pytest.fixture
def smtp_server(imap_account: ImapAccount) -> Iterator[SmtpSink]:
    """An SMTP sink that requires the mailbox's login, as a real submission server does."""
    with SmtpSink(
        username=imap_account.username, password=imap_account.password, auth_required=True
    ) as sink:
        yield sink


@pytest.fixture
def make_mailbox(
    db: None, imap_account: ImapAccount, smtp_server: SmtpSink
) -> Callable[..., Mailbox]:
    """Create a mailbox on the test Dovecot account and SMTP sink through the CLI."""

    def make(processor: str = "none", label: str = "Support", **settings: Any) -> Mailbox:
        args = [
            "mailbox", "add",
            "--label", label,
            "--email", "support@example.test",
            "--imap-host", imap_account.host,
            "--imap-port", str(imap_account.port),
            "--imap-encryption", "none",
            "--smtp-host", smtp_server.host,
            "--smtp-port", str(smtp_server.port),
            "--smtp-encryption", "none",
            "--username", imap_account.username,
            "--password-stdin",
            "--folder", "INBOX",
            "--processor", processor,
        ]  # fmt: skip
        for key, value in settings.items():
            args += ["--processor-setting", f"{key}={value}"]
        mailbox_id = int(run_cli(*args, stdin=imap_account.password + "\n").strip())
        return Mailbox.objects.get(pk=mailbox_id)

    return make
