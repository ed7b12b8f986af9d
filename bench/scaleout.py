"""The scale-out shape for the benches: a dedicated PostgreSQL database, a private Redis, and
mailroom's scale-out processes (``worker``, ``watch``, ``beat``) as children.

- The database (``mailroom_bench`` on the shared server by default) is dropped and created
  afresh for each run, and dropped at the end. Only names starting with ``mailroom_bench`` are
  accepted, so a typo cannot drop anyone else's database. The server itself is never touched.
- Redis is a private ``redis-server`` on a free loopback port, without persistence, started
  and stopped by the bench, so nothing collides with the tests' Redis on 6379.
- The secrets the shape requires (``MAILROOM_SECRET_KEY``, ``MAILROOM_CREDENTIAL_KEYS``) are
  generated per run.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import psycopg
import redis
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procs import CLK_TCK, ChildFailed, ChildProcess, proc_stat

PG_SERVER = "postgres://postgres@127.0.0.1"
DATABASE = "mailroom_bench"
REDIS_SERVER = "/usr/bin/redis-server"
QUEUES = ("sync", "process", "send", "sweep")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every bench with ``--shape`` shares."""
    parser.add_argument(
        "--shape",
        choices=("embedded", "scaleout"),
        default="embedded",
        help="embedded: SQLite and one process; scaleout: PostgreSQL, Redis and mailroom's "
        "worker/watch/beat processes",
    )
    parser.add_argument(
        "--pg-server",
        default=PG_SERVER,
        help="PostgreSQL server (scaleout), as a URL without the database name",
    )
    parser.add_argument(
        "--database",
        default=DATABASE,
        help="database dropped, created and dropped again for the run (scaleout); its name "
        "must start with mailroom_bench",
    )
    parser.add_argument(
        "--pg-options",
        default="",
        help="scaleout, for experiments: libpq options of mailroom's connections, such as "
        "'-c synchronous_commit=off' or '-c log_statement=all' (passed in DATABASE_URL)",
    )


def free_port() -> int:
    """A loopback TCP port that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class BenchDatabase:
    """A PostgreSQL database of the bench's own on a shared server."""

    def __init__(self, server: str, name: str, options: str = "") -> None:
        if not name.startswith("mailroom_bench"):
            raise SystemExit(f"--database {name!r}: the name must start with mailroom_bench")
        self.server = server.rstrip("/")
        self.name = name
        self.options = options
        self._conn: psycopg.Connection[Any] | None = None

    @property
    def url(self) -> str:
        return f"{self.server}/{self.name}"

    @property
    def mailroom_url(self) -> str:
        """The DATABASE_URL given to mailroom: ``url`` with the libpq options, if any."""
        if not self.options:
            return self.url
        return f"{self.url}?{urlencode({'options': self.options}, quote_via=quote)}"

    def _admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(f"{self.server}/postgres", autocommit=True, connect_timeout=10)

    def recreate(self) -> None:
        """Drop the database (ending its own sessions) and create it empty."""
        self.close()
        with self._admin() as conn:
            name = sql.Identifier(self.name)
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(name))

    def drop(self) -> None:
        self.close()
        with self._admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name))
            )

    def query(
        self, text: str, params: tuple[object, ...] = (), *, fetch: bool = True
    ) -> list[tuple[Any, ...]]:
        """Rows of one query (autocommit), over a connection kept between calls."""
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        cursor = self._conn.execute(text, params)  # type: ignore[arg-type]
        return cursor.fetchall() if fetch else []

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None


class BackendCpu:
    """CPU used by the PostgreSQL backends serving the bench database (read from /proc, so the
    server must run on this machine): sampled while they live, since a backend that ends takes
    its figures with it. The bench's own polling connection is left out."""

    def __init__(self, database: BenchDatabase) -> None:
        self.database = database
        self._ticks: dict[tuple[int, str], int] = {}

    def sample(self) -> None:
        rows = self.database.query(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (self.database.name,),
        )
        for (pid,) in rows:
            fields = proc_stat(pid)
            if fields is not None:
                # utime, stime; starttime tells a reused pid apart.
                key = (pid, fields[19])
                self._ticks[key] = max(self._ticks.get(key, 0), int(fields[11]) + int(fields[12]))

    def seconds(self) -> float:
        return sum(self._ticks.values()) / CLK_TCK

    def backends(self) -> int:
        return len(self._ticks)


class PrivateRedis:
    """``redis-server`` on a free loopback port, no persistence, for this run only."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.workdir),
                "--logfile", str(self.workdir / "redis.log"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"redis-server exited {self.proc.returncode}")
            try:
                if self.client().ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise SystemExit(f"redis-server did not answer on port {self.port} within {timeout} s")

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def queue_lengths(self) -> dict[str, int]:
        """Tasks waiting in each of mailroom's broker queues."""
        client = self.client()
        return {queue: int(client.llen(f"mailroom.{queue}")) for queue in QUEUES}

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def scaleout_env(env: dict[str, str], database_url: str, broker_url: str) -> dict[str, str]:
    """``env`` plus what selects the scale-out shape and the secrets it requires."""
    shaped = dict(env)
    shaped["DATABASE_URL"] = database_url
    shaped["CELERY_BROKER_URL"] = broker_url
    shaped["MAILROOM_SECRET_KEY"] = secrets.token_urlsafe(50)
    shaped["MAILROOM_CREDENTIAL_KEYS"] = base64.urlsafe_b64encode(os.urandom(32)).decode()
    return shaped


def mailroom_process(
    role: str,
    args: list[str],
    env: dict[str, str],
    log_dir: Path,
    say: Callable[[str], None],
) -> ChildProcess:
    """A ``mailroom`` command of the scale-out shape, stopped by SIGTERM (a warm shutdown)."""
    return ChildProcess(
        role,
        [sys.executable, "-m", "mailroom.cli", *args],
        env,
        log_dir / f"{role}.log",
        cwd=env["MAILROOM_DATA_DIR"],
        stop_signal=signal.SIGTERM,
        stop_timeout=30.0,
        say=say,
    )


def start_workers(
    env: dict[str, str],
    log_dir: Path,
    say: Callable[[str], None],
    *,
    count: int,
    concurrency: int,
) -> list[ChildProcess]:
    """``count`` ``mailroom worker`` processes of ``concurrency`` each, serving every queue;
    returns once each has said it is ready."""
    workers = [
        mailroom_process(
            f"worker{n}", ["worker", f"--concurrency={concurrency}"], env, log_dir, say
        )
        for n in range(1, count + 1)
    ]
    for worker in workers:
        worker.start(ready=None)
    for worker in workers:
        wait_logged(worker, " ready.")
    return workers


def wait_logged(child: ChildProcess, text: str, timeout: float = 120.0) -> None:
    """Wait until ``child`` has logged ``text``; fail if it exits first or time runs out."""
    deadline = time.monotonic() + timeout
    while not child.logged(text):
        if not child.alive():
            raise ChildFailed(f"{child.role} exited:\n{child.tail()}")
        if time.monotonic() > deadline:
            raise ChildFailed(f"{child.role} did not log {text!r} within {timeout:.0f} s")
        time.sleep(0.1)


def usage(children: list[ChildProcess]) -> list[dict[str, Any]]:
    """Memory, CPU and threads of each process (a worker counts with its pool's children)."""
    return [
        {
            "role": child.role,
            "processes": len(child.members()),
            "peak_rss_mb": round(child.peak_rss_kb() / 1024, 1),
            "rss_mb": round(child.rss_kb() / 1024, 1),
            "cpu_seconds": round(child.cpu_seconds(), 2),
            "threads": child.threads(),
        }
        for child in children
    ]


def log_errors(children: list[ChildProcess]) -> int:
    """ERROR lines and tracebacks in the processes' logs."""
    return sum(
        1
        for child in children
        for line in child.tail(10**9).splitlines()
        if " ERROR " in line or "Traceback" in line
    )


_DB_STATS_SQL = """
SELECT sessions, active_time, xact_commit, xact_rollback, tup_inserted, tup_updated, blk_write_time
FROM pg_stat_database WHERE datname = %s
"""


def database_stats(database: BenchDatabase) -> dict[str, float]:
    """The bench database's counters in ``pg_stat_database`` (cumulative; subtract two)."""
    rows = database.query(_DB_STATS_SQL, (database.name,))
    if not rows:
        return {}
    names = ("sessions", "active_ms", "commits", "rollbacks", "inserted", "updated", "write_ms")
    return {name: float(value or 0) for name, value in zip(names, rows[0], strict=True)}


def stats_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: round(after[name] - before.get(name, 0), 1) for name in after}


class Fleet:
    """Several child processes measured as one (the CPU the harness watches, the memory it
    reports), each also reported by itself."""

    def __init__(self, children: list[ChildProcess]) -> None:
        self.children = children

    def cpu_seconds(self) -> float:
        return sum(child.cpu_seconds() for child in self.children)

    def peak_rss_kb(self) -> int:
        return sum(child.peak_rss_kb() for child in self.children)

    def threads(self) -> int:
        return sum(child.threads() for child in self.children)

    def tail(self, chars: int = 4000) -> str:
        return "".join(f"--- {c.role}\n{c.tail(chars)}" for c in self.children)

    def dead(self) -> list[ChildProcess]:
        return [child for child in self.children if not child.alive()]

    def stop(self) -> None:
        """Watchers first (they give their leases back), then beat, then the workers."""
        for child in self.children:
            child.stop()
