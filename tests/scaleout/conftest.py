"""The scale-out shape with real processes: ``mailroom worker``, ``watch`` and ``beat`` as
subprocesses over PostgreSQL and a private Redis, against Dovecot and aiosmtpd.

These tests need the suite to run on PostgreSQL (``MAILROOM_TEST_DATABASE_URL``, see
tests/settings.py): the processes share the test database pytest-django creates. Each test is
``transaction=True`` so that what it writes is committed and seen by the processes, and the
processes are killed (their whole process group) before the database is flushed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings

from tests.scaleout.processes import Cluster, free_port
from tests.servers.dovecot import DovecotServer
from tests.servers.fixtures import require_dovecot

REDIS_SERVER = "/usr/bin/redis-server"

ON_POSTGRES = bool(os.environ.get("MAILROOM_TEST_DATABASE_URL"))
SKIP_REASON = (
    "the scale-out tests run only on PostgreSQL: set MAILROOM_TEST_DATABASE_URL "
    "(postgres://…) to run them (CI's second pass does)"
)
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip this directory's tests unless the suite runs on PostgreSQL."""
    if ON_POSTGRES:
        return
    for item in items:
        if HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.skip(reason=SKIP_REASON))


# Dovecot falls back to checking a folder every mailbox_idle_check_interval when it cannot
# get an inotify instance (they are per user, and every test Dovecot on the machine runs as
# nobody): one second keeps pushes prompt even then. Fifty watched mailboxes and their
# logins need more than Dovecot's default hundred processes.
DOVECOT_CONFIG = """\
mailbox_idle_check_interval = 1 secs
default_process_limit = 400
default_client_limit = 1200
service anvil {
  client_limit = 1200
}
service auth {
  client_limit = 1200
}
"""


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    """This directory's own Dovecot, configured for many watched mailboxes."""
    require_dovecot()
    with DovecotServer(extra_config=DOVECOT_CONFIG) as server:
        yield server


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """A private Redis for the session (never the shared one on 6379); its URL."""
    if not Path(REDIS_SERVER).exists():
        pytest.fail(f"{REDIS_SERVER} is missing: apt-get install redis-server")
    directory = Path(tempfile.mkdtemp(prefix="mailroom-redis-"))
    port = free_port()
    options = {"port": str(port), "bind": "127.0.0.1", "save": "", "appendonly": "no"}
    options["dir"] = str(directory)
    argv = [REDIS_SERVER]
    for key, value in options.items():
        argv += [f"--{key}", value]
    process = subprocess.Popen(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    try:
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield url
    finally:
        client.close()
        process.kill()
        process.wait(10)
        shutil.rmtree(directory, ignore_errors=True)


def database_url() -> str:
    """The URL of the test database pytest-django created (``test_…``)."""
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    host = db["HOST"] or "127.0.0.1"
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{auth}@{host}{port}/{db['NAME']}"


@pytest.fixture
def cluster(transactional_db: None, redis_server: str, tmp_path: Path) -> Iterator[Cluster]:
    """Starts mailroom's scale-out processes on the test database and the private Redis;
    kills every one of them (process group) before the database is flushed."""
    redis.Redis.from_url(redis_server).flushall()
    environment = {
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": redis_server,
        "MAILROOM_SECRET_KEY": os.environ["MAILROOM_SECRET_KEY"],
        "MAILROOM_CREDENTIAL_KEYS": os.environ["MAILROOM_CREDENTIAL_KEYS"],
        "MAILROOM_ALLOWED_MAIL_HOSTS": "127.0.0.1",
        "MAILROOM_MAIL_TIMEOUT": "10",
        "MAILROOM_LEASE_SECONDS": "5",
        "MAILROOM_SWEEP_SECONDS": "1",
        "MAILROOM_DATA_DIR": str(tmp_path / "data"),
    }
    processes = Cluster(environment, tmp_path / "logs")
    try:
        yield processes
    finally:
        processes.stop_all()
