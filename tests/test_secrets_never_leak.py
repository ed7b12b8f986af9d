"""threats.md S08: a mail password is stored encrypted and never written anywhere else.

After a real sync (IMAP LOGIN to Dovecot), an autoresponse sent through the SMTP sink (AUTH), a
connection check in the product and a sync refused for a wrong password, neither password nor
the SASL PLAIN string that carries it (base64 of "\\0user\\0password") is in any log line
(mailroom's loggers at DEBUG), any command output, any page, or any column of any table of the
database: a dump of the whole database finds only the encrypted value.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError
from django.db import connection
from django.test import Client

from mailroom.models import Mailbox, MailboxConnection
from tests.conftest import run_cli
from tests.servers.fixtures import ImapAccount
from tests.servers.smtp import SmtpSink
from tests.test_end_to_end import _answering_rule
from tests.web.test_mailbox_form import VALID

pytestmark = pytest.mark.django_db


def _secrets(user: str, password: str) -> list[bytes]:
    plain = password.encode()
    sasl = base64.b64encode(f"\0{user}\0{password}".encode())
    return [plain, sasl, base64.b64encode(plain)]


def _database_dump() -> bytes:
    """Every value of every table, as bytes."""
    chunks: list[bytes] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, memoryview):
                        value = value.tobytes()
                    chunks.append(value if isinstance(value, bytes) else str(value).encode())
    return b"\n".join(chunks)


def test_no_password_is_written_anywhere_but_encrypted(
    make_mailbox: Callable[..., Mailbox],
    imap_account: ImapAccount,
    smtp_server: SmtpSink,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    user, password = imap_account.username, imap_account.password
    wrong = "wrong-Pa55word-for-the-log"
    mailbox = make_mailbox()
    _answering_rule(mailbox, contains="Question")
    imap_account.deliver(
        b"Return-Path: <ann@customer.test>\r\nFrom: Ann <ann@customer.test>\r\n"
        b"To: support@example.test\r\nSubject: Question\r\nMessage-ID: <q1@customer.test>\r\n\r\n"
        b"Hello?\r\n"
    )
    output = [run_cli("sync", "--once")]
    assert len(smtp_server.accepted) == 1  # the answer went out over SMTP AUTH
    admin = Client()
    admin.force_login(User.objects.create_user("root", is_staff=True))
    check = {
        **VALID,
        "imap_host": imap_account.host,
        "imap_port": str(imap_account.port),
        "imap_encryption": "none",
        "smtp_enabled": "",
        "username": user,
        "password": password,
        "check": "1",
    }
    check.pop("save")
    pages = [admin.post("/mailboxes/new/", check).content]
    assert b"Connection works" in pages[0]
    # The password is changed to a wrong one: the sync is refused and says so.
    mailbox.connection.set_password(wrong)
    mailbox.connection.save()
    Mailbox.objects.filter(pk=mailbox.pk).update(credential_version=2)
    with pytest.raises(CommandError) as refused:
        run_cli("sync", "--once")
    output.append(str(refused.value))
    pages += [admin.get(f"/mailboxes/{mailbox.pk}/").content, admin.get("/health/").content]
    assert "refused the user name or password" in output[1]
    assert b"refused" in pages[1]

    stored = MailboxConnection.objects.get(pk=mailbox.connection.pk).password_encrypted
    assert stored and wrong not in stored
    logs = "\n".join(record.getMessage() for record in caplog.records).encode()
    everywhere = {
        "logs": logs,
        "command output": "\n".join(output).encode(),
        "pages": b"\n".join(pages),
        "database": _database_dump(),
    }
    assert len(everywhere["logs"]) > 0 and len(everywhere["database"]) > 10_000
    for where, text in everywhere.items():
        for secret in _secrets(user, password) + _secrets(user, wrong):
            assert secret not in text, f"a password is in the {where}"
