"""`mailroom run` as a newcomer starts it: mail pushed by IDLE is stored within seconds,
without waiting for the poll interval, and Ctrl-C stops the process cleanly."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.processes import Installation
from tests.servers.fixtures import ImapAccount

MAIL = (
    b"Return-Path: <bob@customer.test>\r\n"
    b"From: Bob <bob@customer.test>\r\n"
    b"To: support@example.test\r\n"
    b"Subject: Pushed %d\r\n"
    b"Message-ID: <pushed-%d@customer.test>\r\n"
    b"\r\n"
    b"Hello.\r\n"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _count(site: Installation) -> int:
    return int(site.scalar("SELECT count(*) FROM mailroom_message"))


def _wait_until(predicate: object, timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():  # type: ignore[operator]
            return time.monotonic() - start
        time.sleep(0.1)
    raise AssertionError(f"not true within {timeout} s")


@pytest.fixture
def site(tmp_path: Path) -> Installation:
    """An installation in ``tmp_path`` with the database of the suite's shape."""
    return Installation(
        tmp_path,
        MAILROOM_ADMIN_EMAIL="admin@example.test",
        MAILROOM_ADMIN_PASSWORD="admin-pw-1",
        # An hour: anything stored within seconds came by IDLE, not by polling.
        MAILROOM_POLL_SECONDS="3600",
    )


@pytest.fixture
def server_env(site: Installation) -> dict[str, str]:
    return site.env


@pytest.fixture
def running(
    server_env: dict[str, str], imap_account: ImapAccount
) -> Iterator[subprocess.Popen[str]]:
    script = str(Path(sys.executable).with_name("mailroom"))
    subprocess.run(
        [script, "migrate"], env=server_env, check=True, capture_output=True, timeout=120
    )
    subprocess.run(
        [
            script, "mailbox", "add", "--label", "Support", "--email", "support@example.test",
            "--imap-host", imap_account.host, "--imap-port", str(imap_account.port),
            "--imap-encryption", "none", "--username", imap_account.username,
            "--password-stdin", "--folder", "INBOX", "--processor", "case",
        ],
        env=server_env, input=imap_account.password + "\n", check=True, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    port = _free_port()
    proc = subprocess.Popen(
        [script, "run", "--bind", f"127.0.0.1:{port}"],
        env=server_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_it_stores_pushed_mail_within_seconds_and_stops_on_ctrl_c(
    running: subprocess.Popen[str], imap_account: ImapAccount, site: Installation
) -> None:
    imap_account.append("INBOX", MAIL % (1, 1))
    # The first pass at start-up stores what is already there.
    _wait_until(lambda: _count(site) == 1, timeout=30)
    time.sleep(2)  # let the watcher settle into IDLE

    imap_account.append("INBOX", MAIL % (2, 2))
    took = _wait_until(lambda: _count(site) == 2, timeout=10)
    assert took < 10

    running.send_signal(signal.SIGINT)
    output, _ = running.communicate(timeout=30)
    assert running.returncode == 0, output
    assert "mailroom stopped" in output
    assert imap_account.password not in output
