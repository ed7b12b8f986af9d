"""PostgreSQL restarted in the middle of an import (threats.md F26): nothing half-saved, and the
import completes with the exact count.

The restart is of a private PostgreSQL cluster started for this test (initdb on a free port),
never of the shared server others use.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.scaleout.processes import Cluster, free_port
from tests.servers.fixtures import ImapAccount
from tests.servers.smtp import SmtpSink

pytestmark = pytest.mark.django_db(transaction=True)

BIN = Path("/usr/lib/postgresql/15/bin")
MESSAGES = 3000


class PrivatePostgres:
    """A throwaway PostgreSQL cluster on 127.0.0.1 (run as ``postgres`` when we are root)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="mailroom-pg-", dir="/tmp"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.user = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        if self.user is not None:
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
        self._as_owner(str(BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/mailroom"

    def _as_owner(self, *argv: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self.user is not None else []
        done = subprocess.run(
            [*prefix, *argv], capture_output=True, text=True, timeout=120, cwd=self.root
        )
        assert done.returncode == 0, f"{' '.join(argv)}: {done.stdout}{done.stderr}"

    def pg_ctl(self, *args: str) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c synchronous_commit=off"
        )
        self._as_owner(
            str(BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options,
            "-w", "-t", "60", *args,
        )  # fmt: skip

    def connect(self, dbname: str = "mailroom") -> psycopg.Connection[Any]:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=dbname, autocommit=True
        )

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with self.connect() as db:
            return db.execute(sql).fetchall()  # type: ignore[arg-type]

    def scalar(self, sql: str) -> Any:
        return self.query(sql)[0][0]

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    if not (BIN / "initdb").exists():
        pytest.fail(f"{BIN / 'initdb'} is missing: apt-get install postgresql")
    server = PrivatePostgres()
    try:
        server.pg_ctl("start")
        with server.connect("postgres") as db:
            db.execute("CREATE DATABASE mailroom")
        yield server
    finally:
        server.stop()


def _consistency(pg: PrivatePostgres) -> tuple[int, int]:
    """Assert that nothing is half-saved; return (messages stored, the folder's cursor)."""
    # Every message row has its raw bytes and its processing record.
    assert pg.query(
        "SELECT count(*) FROM mailroom_message m "
        "LEFT JOIN mailroom_rawmessage r ON r.sha256 = m.sha256 "
        "LEFT JOIN mailroom_processingrecord p ON p.message_id = m.id "
        "WHERE r.sha256 IS NULL OR p.id IS NULL"
    ) == [(0,)]
    uids = [uid for (uid,) in pg.query("SELECT uid FROM mailroom_message ORDER BY uid")]
    cursor = pg.scalar("SELECT last_uid FROM mailroom_folder WHERE selected")
    # The cursor never passes a message that is not stored, and nothing is stored twice.
    assert uids == list(range(1, len(uids) + 1))
    assert cursor <= len(uids)
    return len(uids), cursor


def test_an_import_survives_a_database_restart_with_nothing_half_saved(
    cluster: Cluster,
    postgres: PrivatePostgres,
    imap_account: ImapAccount,
    smtp_server: SmtpSink,
) -> None:
    env = {"DATABASE_URL": postgres.url, "MAILROOM_FETCH_BATCH": "100"}
    cluster.run("migrate", **env)
    cluster.run(
        "mailbox", "add", "--label", "Support", "--email", "support@example.test",
        "--imap-host", imap_account.host, "--imap-port", str(imap_account.port),
        "--imap-encryption", "none", "--smtp-host", smtp_server.host,
        "--smtp-port", str(smtp_server.port), "--smtp-encryption", "none",
        "--username", imap_account.username, "--password-stdin", "--folder", "INBOX",
        stdin=imap_account.password + "\n",
        **env,
    )  # fmt: skip
    for n in range(MESSAGES):
        imap_account.deliver(
            b"From: c%d@customer.test\r\nSubject: m %d\r\n\r\nbody %d\r\n" % (n, n, n)
        )
    cluster.worker("worker", "--concurrency=2", **env)
    cluster.start("beat", "beat", "--every=1", ready="sending the sweep", **env)

    def stored() -> int:
        return int(postgres.scalar("SELECT count(*) FROM mailroom_message"))

    cluster.until(lambda: stored() >= MESSAGES // 5, 60, "the import under way", every=0.01)
    postgres.pg_ctl("restart", "-m", "fast")
    at_restart, cursor = _consistency(postgres)
    assert cursor == at_restart  # chunks commit with their cursor: none was cut in half
    assert at_restart < MESSAGES, "the import finished before the restart"

    cluster.until(lambda: stored() == MESSAGES, 90, f"all {MESSAGES} stored after the restart")
    cluster.until(
        lambda: (
            postgres.scalar("SELECT count(*) FROM mailroom_processingrecord WHERE state = 'done'")
            == MESSAGES
        ),
        60,
        "every message processed",
    )
    assert _consistency(postgres) == (MESSAGES, MESSAGES)
    assert postgres.scalar("SELECT count(*) FROM mailroom_rawmessage") == MESSAGES
    assert postgres.scalar("SELECT count(*) FROM mailroom_processingrecord") == MESSAGES
    # The sync task met the restart, was retried, and resumed from its cursor.
    worker_log = cluster.procs[0].output
    retried = r"Task mailroom\.sync_folder\[[\w-]+\] retry: Retry in \d+s: (Operational|Interface)"
    assert re.search(retried, worker_log), cluster.report()
