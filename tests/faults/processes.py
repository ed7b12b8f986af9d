"""A mailroom installation in its own data directory, driven as an operator would: the
``mailroom`` command in subprocesses, which the tests may kill, and its database read on the
side.

The installation has the database of the suite's shape: its own SQLite file in the data
directory, or, when the suite runs on PostgreSQL (``MAILROOM_TEST_DATABASE_URL``), its own
PostgreSQL database on that server, created for it and dropped at the end of the session.
The processes then work on a database of their own, as on SQLite, never on pytest-django's
test database (whose data lives in the test's open transaction).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

from tests.servers.fixtures import ImapAccount
from tests.servers.smtp import SmtpSink

MAILROOM = str(Path(sys.executable).with_name("mailroom"))

# The PostgreSQL server of the suite, when it runs there (tests/settings.py sets DATABASE_URL).
_SUITE_DATABASE_URL = os.environ.get("MAILROOM_TEST_DATABASE_URL", "")
_created: list[str] = []


def _server_url(name: str) -> str:
    """The suite's PostgreSQL URL with the database ``name``."""
    parts = urlsplit(_SUITE_DATABASE_URL)
    return urlunsplit(parts._replace(path="/" + name))


def _database_name(data_dir: Path) -> str:
    """The PostgreSQL database of the installation in ``data_dir`` (one per directory)."""
    base = urlsplit(_SUITE_DATABASE_URL).path.lstrip("/") or "mailroom"
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:12]
    return f"{base}_site_{digest}"


def _admin(sql: str) -> None:
    """Run ``sql`` on the server's maintenance database, outside a transaction."""
    with psycopg.connect(_server_url("postgres"), autocommit=True) as db:
        db.execute(sql)


def _create_database(name: str, template: str | None = None) -> None:
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    if name not in _created:
        _created.append(name)


def shape_env(data_dir: Path) -> dict[str, str]:
    """What gives the installation in ``data_dir`` the database of the suite's shape: nothing
    on SQLite (its file in the data directory); on PostgreSQL a new database of its own, and
    the secrets the scale-out shape requires with it."""
    if not _SUITE_DATABASE_URL:
        return {}
    name = _database_name(data_dir)
    _create_database(name)
    return {
        "DATABASE_URL": _server_url(name),
        **{
            key: os.environ[key]
            for key in ("MAILROOM_SECRET_KEY", "MAILROOM_CREDENTIAL_KEYS")
            if key in os.environ
        },
    }


def drop_databases() -> None:
    """Drop the PostgreSQL databases the installations of this session created."""
    while _created:
        _admin(f'DROP DATABASE IF EXISTS "{_created.pop()}" WITH (FORCE)')


class Installation:
    """``mailroom`` commands run against ``data_dir`` and its database, which the test reads
    and changes directly (SQL with ``?`` placeholders, for either database)."""

    def __init__(self, data_dir: Path, **settings: str) -> None:
        self.data_dir = data_dir
        self.env = {
            **os.environ,
            "MAILROOM_DATA_DIR": str(data_dir),
            "MAILROOM_ALLOWED_MAIL_HOSTS": "127.0.0.1",
            "MAILROOM_MAIL_TIMEOUT": "10",
            **settings,
        }
        self.env.pop("DJANGO_SETTINGS_MODULE", None)
        self.env.update(shape_env(data_dir))
        self.postgres = _database_name(data_dir) if _SUITE_DATABASE_URL else ""

    @property
    def database(self) -> Path:
        return self.data_dir / "mailroom.sqlite3"

    def run(self, *args: str, stdin: str = "", timeout: float = 120) -> str:
        """Run ``mailroom ARGS`` to completion; its standard output. Fails on a non-zero exit."""
        done = subprocess.run(
            [MAILROOM, *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, f"mailroom {' '.join(args)}: {done.stdout}{done.stderr}"
        return done.stdout

    def start(self, *args: str, **env: str) -> subprocess.Popen[str]:
        """Start ``mailroom ARGS`` (with more environment ``env``); the caller waits for it
        or kills it."""
        return subprocess.Popen(
            [MAILROOM, *args],
            env={**self.env, **env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Rows of a read-only query (readers never block the writer in WAL mode)."""
        if self.postgres:
            with psycopg.connect(self.env["DATABASE_URL"], autocommit=True) as pg:
                return [tuple(row) for row in pg.execute(_pg(sql), params)]
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=30) as db:
            return list(db.execute(sql, params))

    def scalar(self, sql: str, *params: Any) -> Any:
        return self.query(sql, *params)[0][0]

    def write(self, sql: str, *params: Any) -> None:
        """Change the database directly (to let time pass: expire a lease)."""
        if self.postgres:
            with psycopg.connect(self.env["DATABASE_URL"], autocommit=True) as pg:
                pg.execute(_pg(sql), params)
            return
        with sqlite3.connect(self.database, timeout=30) as db:
            db.execute(sql, params)

    def set_up(
        self,
        account: ImapAccount,
        smtp: SmtpSink,
        *,
        migrated: Path | None = None,
        processor: str = "case",
    ) -> int:
        """Migrate (or copy the ``migrated`` data directory of another installation), add a
        mailbox on ``account`` sending through ``smtp``, and give it a rule answering every
        "Question" (through ``config import``, as an operator would); the mailbox id."""
        if migrated is None:
            self.run("migrate")
        else:
            shutil.copytree(migrated, self.data_dir, dirs_exist_ok=True)
            if self.postgres:
                _create_database(self.postgres, template=_database_name(migrated))
        mailbox_id = int(
            self.run(
                "mailbox", "add", "--label", "Support", "--email", "support@example.test",
                "--imap-host", account.host, "--imap-port", str(account.port),
                "--imap-encryption", "none", "--smtp-host", smtp.host,
                "--smtp-port", str(smtp.port), "--smtp-encryption", "none",
                "--username", account.username, "--password-stdin", "--folder", "INBOX",
                "--processor", processor,
                stdin=account.password + "\n",
            ).strip()
        )  # fmt: skip
        document = json.loads(self.run("config", "export"))
        document["templates"] = [
            {
                "name": "ack",
                "type": "text",
                "default_language": "en",
                "translations": [
                    {"language": "en", "subject": "Re: {{ subject }}", "body": "We got it.\n"}
                ],
            }
        ]
        document["mailboxes"][0]["rules"] = [
            {
                "name": "Acknowledge",
                "active": True,
                "template": "ack",
                "conditions": [{"field": "subject", "operator": "contains", "value": "Question"}],
            }
        ]
        path = self.data_dir / "config.json"
        path.write_text(json.dumps(document))
        self.run("config", "import", str(path))
        return mailbox_id


def _pg(sql: str) -> str:
    """``sql`` with SQLite's ``?`` placeholders as psycopg's ``%s`` (and ``%`` escaped)."""
    return re.sub(r"\?", "%s", sql.replace("%", "%%"))
