"""Shared harness of ``bench/latency.py`` and ``bench/watchers.py``: push latency under load.

One ``mailroom run`` process (the real console script, a fresh data directory) watches MAILBOXES
mailboxes of a throwaway Dovecot (``tests.servers.dovecot.DovecotServer``), one Dovecot user per
mailbox. Each mailbox has processor ``none`` and one catch-all autoresponse rule (no condition:
it matches every message) answering through a local SMTP peer (aiosmtpd) that records when each
reply arrives and its In-Reply-To. After an untimed warm-up (a probe message per mailbox, until
each is answered), the timed part APPENDs answerable messages to random mailboxes at RATE per
second for SECONDS, over a pool of IMAP connections opened beforehand, one per mailbox. Reply
latency = SMTP arrival - APPEND return, matched by In-Reply-To, on one monotonic clock.

In the same run a few bare IDLE clients (imapclient ``idle()``/``idle_check()``) on some of the
mailboxes measure Dovecot's own notification delay: APPEND return -> the EXISTS that announces
the message. The added latency is a reply-latency percentile minus the same percentile of that
delay (a difference of percentiles, not a percentile of differences).

Everything is loopback, in temporary directories, and bounded in time; Dovecot, mailroom, the
SMTP peer, the temporary directories and a raised ``fs.inotify.max_user_instances`` are undone
on success, failure and Ctrl-C alike. Only the CLI and the processes are used, never mailroom's
internals, so the harness works whatever the sync engine looks like inside.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.utils import formatdate
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from imapclient import IMAPClient

ROOT = Path(__file__).resolve().parents[1]

# The Dovecot fixture lives in tests/, which is not installed with the package.
sys.path.insert(0, str(ROOT))
from tests.servers.dovecot import DovecotServer  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scaleout  # noqa: E402
from procs import ChildProcess  # noqa: E402

INBOX = "INBOX"
TEMPLATE = "bench-ack"
RULE = "Bench catch-all"
INOTIFY = Path("/proc/sys/fs/inotify")

_tag = "bench"


def log(text: str) -> None:
    """Progress for the person watching; stdout is kept for the JSON result."""
    print(f"[{_tag}] {text}", file=sys.stderr, flush=True)


def fail(text: str) -> NoReturn:
    """Stop the benchmark with a message; the callers' finally blocks tear down."""
    raise SystemExit(f"[{_tag}] FAILED: {text}")


def free_port() -> int:
    """A loopback TCP port that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile of ``values`` (None when there are none)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def rounded(value: float | None, digits: int = 1) -> float | None:
    """``value`` rounded for the JSON output; None stays None."""
    return None if value is None else round(value, digits)


# -- the SMTP peer that receives the replies -------------------------------------------------


@dataclass
class Arrival:
    """One reply the peer accepted: when (time.monotonic) and what it answered."""

    at: float
    in_reply_to: str
    rcpt_tos: list[str]


class _PeerHandler:
    def __init__(self, peer: ReplyPeer) -> None:
        self.peer = peer

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        # aiosmtpd may offer AUTH without an authenticator; the peer asks for no login.
        return [line for line in responses if not line.startswith("250-AUTH")]

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        at = time.monotonic()
        raw = envelope.original_content or b""
        headers = BytesHeaderParser().parsebytes(raw)
        in_reply_to = str(headers.get("In-Reply-To", "")).strip()
        self.peer.record(Arrival(at, in_reply_to, [str(r) for r in envelope.rcpt_tos]))
        return "250 OK"


class _PeerController(Controller):
    """An aiosmtpd Controller that binds port 0 and learns the port the kernel picked."""

    def _trigger_server(self) -> None:
        server = self.server
        assert isinstance(server, asyncio.Server)
        self.port = server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


class ReplyPeer:
    """The mailboxes' SMTP server on 127.0.0.1: accepts everything, stamps each arrival."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.arrivals: list[Arrival] = []
        self.by_reply_to: dict[str, list[float]] = defaultdict(list)
        self._controller = _PeerController(
            _PeerHandler(self), hostname="127.0.0.1", port=0, decode_data=False
        )

    @property
    def port(self) -> int:
        port: int = self._controller.port
        return port

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._controller.stop()

    def record(self, arrival: Arrival) -> None:
        with self._changed:
            self.arrivals.append(arrival)
            self.by_reply_to[arrival.in_reply_to].append(arrival.at)
            self._changed.notify_all()

    def replies(self) -> dict[str, list[float]]:
        """Arrival times by In-Reply-To, so far."""
        with self._changed:
            return {key: list(times) for key, times in self.by_reply_to.items()}

    def wait_for(self, message_ids: set[str], deadline: float) -> set[str]:
        """Wait until each of ``message_ids`` has a reply or ``deadline``; return the missing."""
        with self._changed:
            while True:
                missing = {m for m in message_ids if m not in self.by_reply_to}
                remaining = deadline - time.monotonic()
                if not missing or remaining <= 0:
                    return missing
                self._changed.wait(min(remaining, 1.0))


# -- messages ---------------------------------------------------------------------------------


def customer_message(run: str, number: int, to_email: str, kind: str = "msg") -> tuple[str, bytes]:
    """An answerable customer message: real Return-Path, unique Message-ID, Date now.

    No automatic-mail marker (no Precedence, List-*, Auto-Submitted). Every message has its own
    sender, since mailroom answers one sender at most once per rule in 7 days.
    """
    sender = f"customer-{run}-{kind}{number}@example.org"
    message_id = f"<{kind}{number}.{run}@bench.example.org>"
    raw = (
        f"Return-Path: <{sender}>\r\n"
        f"From: Customer {number} <{sender}>\r\n"
        f"To: <{to_email}>\r\n"
        f"Subject: Question {number} about my order\r\n"
        f"Date: {formatdate(localtime=True)}\r\n"
        f"Message-ID: {message_id}\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 7bit\r\n"
        "\r\n"
        f"Hello,\r\n\r\nwhere is my order {number}? Please let me know.\r\n\r\nThanks,\r\n"
        f"Customer {number}\r\n"
    ).encode()
    return message_id, raw


# -- resources --------------------------------------------------------------------------------


def raise_nofile() -> int:
    """Raise this process's open-file limit to its hard limit; children inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


@contextlib.contextmanager
def inotify_limits(instances: int, watches: int) -> Iterator[None]:
    """Raise fs.inotify.max_user_{instances,watches} to at least these values, then restore.

    Dovecot's IDLE needs one inotify instance per session, all of them under Dovecot's one
    user: without it Dovecot falls back to checking every ``mailbox_idle_check_interval``.
    """
    restore: dict[Path, str] = {}
    for name, wanted in (("max_user_instances", instances), ("max_user_watches", watches)):
        path = INOTIFY / name
        try:
            old = path.read_text().strip()
            if int(old) < wanted:
                path.write_text(f"{wanted}\n")
                restore[path] = old
                log(f"{path}: {old} -> {wanted} (restored at the end)")
        except OSError as exc:
            log(f"WARNING: cannot raise {path} to {wanted} ({exc}); IDLE may fall back to polling")
    try:
        yield
    finally:
        for path, old in restore.items():
            try:
                path.write_text(f"{old}\n")
                log(f"{path} restored to {old}")
            except OSError as exc:
                log(f"WARNING: could not restore {path} to {old}: {exc}")


def dovecot_limits(connections: int) -> str:
    """Dovecot settings to hold ``connections`` simultaneous IMAP sessions from one IP.

    Each IMAP session is an imap process (client_limit 1, as Dovecot recommends); each login
    is an imap-login process until it is handed over (service_count 1). anvil counts every
    login and imap process and must accept that many clients.
    """
    limit = max(1024, connections)
    clients = 2 * limit + 256
    return (
        f"default_process_limit = {limit}\n"
        f"default_client_limit = {clients}\n"
        f"service imap {{\n  process_limit = {limit}\n}}\n"
        f"service imap-login {{\n  process_limit = {limit}\n}}\n"
        f"service anvil {{\n  client_limit = {clients}\n}}\n"
        f"service auth {{\n  client_limit = {clients}\n}}\n"
    )


class MailroomProcess(ChildProcess):
    """``mailroom run`` as a child in its own session (so Ctrl-C reaches only the bench)."""

    def __init__(self, env: dict[str, str], bind_port: int, log_path: Path) -> None:
        argv = [sys.executable, "-m", "mailroom.cli", "run", "--bind", f"127.0.0.1:{bind_port}"]
        super().__init__("mailroom run", argv, env, log_path, cwd=env["MAILROOM_DATA_DIR"], say=log)
        self.bind_port = bind_port

    def start(
        self, ready: Callable[[], bool] | None = None, timeout: float = 120.0, what: str = ""
    ) -> None:
        """Start ``mailroom run`` and wait until it listens on its port."""

        def listening() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", self.bind_port), timeout=1):
                    return True
            except OSError:
                return False

        super().start(ready or listening, timeout, what or f"listening on {self.bind_port}")


# -- the mailroom CLI -------------------------------------------------------------------------


def mailroom_env(data_dir: Path) -> dict[str, str]:
    """The environment of a fresh mailroom: our data directory, loopback allowed, no polling."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MAILROOM_") and k != "DJANGO_SETTINGS_MODULE"
    }
    env["MAILROOM_DATA_DIR"] = str(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    env["MAILROOM_ALLOWED_MAIL_HOSTS"] = "127.0.0.1"
    env["MAILROOM_POLL_SECONDS"] = "3600"
    env["MAILROOM_ADMIN_PASSWORD"] = secrets.token_urlsafe(16)
    return env


def mailroom(
    env: dict[str, str], *args: str, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the ``mailroom`` console script; fail loudly on an error unless ``check`` is off."""
    result = subprocess.run(
        [sys.executable, "-m", "mailroom.cli", *args],
        env=env,
        cwd=env["MAILROOM_DATA_DIR"],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    if check and result.returncode != 0:
        fail(f"mailroom {' '.join(args)} exited {result.returncode}:\n{result.stderr[-4000:]}")
    return result


@dataclass(frozen=True)
class Box:
    """One benchmark mailbox: its Dovecot user and its address."""

    index: int
    username: str
    email: str
    label: str


# One shell script instead of N ``mailroom mailbox add`` calls (about a second each): the same
# action functions the command calls, with the same fields, in one transaction. The password
# comes on standard input, never on a command line.
_CREATE_SCRIPT = """
import json, sys
from django.db import transaction
from mailroom.mailboxes.actions import MailboxInput, save_mailbox, set_folders
doc = json.loads(sys.stdin.read())
with transaction.atomic():
    for box in doc["boxes"]:
        mailbox = save_mailbox(MailboxInput(**box), password=doc["password"])
        set_folders(mailbox, known=["INBOX"], selected=["INBOX"])
print("created", len(doc["boxes"]))
"""


def create_mailboxes(
    env: dict[str, str],
    boxes: list[Box],
    *,
    imap_port: int,
    smtp_port: int,
    password: str,
    cli_only: bool,
) -> str:
    """Create the mailboxes; return how ("shell" or "mailbox add")."""
    inputs = [
        {
            "label": box.label,
            "email": box.email,
            "imap_host": "127.0.0.1",
            "imap_port": imap_port,
            "imap_encryption": "none",
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_port,
            "smtp_encryption": "none",
            "smtp_enabled": True,
            "username": box.username,
            "processor_kind": "none",
            "processor_settings": {},
        }
        for box in boxes
    ]
    if not cli_only:
        doc = json.dumps({"password": password, "boxes": inputs})
        result = mailroom(env, "shell", "-c", _CREATE_SCRIPT, stdin=doc, check=False)
        if result.returncode == 0:
            return "shell"
        log(
            "mailroom shell could not create the mailboxes; falling back to mailbox add:\n"
            + result.stderr[-2000:]
        )
    for n, box in enumerate(boxes, 1):
        mailroom(
            env,
            "mailbox", "add",
            "--label", box.label,
            "--email", box.email,
            "--imap-host", "127.0.0.1",
            "--imap-port", str(imap_port),
            "--imap-encryption", "none",
            "--smtp-host", "127.0.0.1",
            "--smtp-port", str(smtp_port),
            "--smtp-encryption", "none",
            "--username", box.username,
            "--password-stdin",
            "--folder", INBOX,
            "--processor", "none",
            stdin=password + "\n",
        )  # fmt: skip
        if n % 50 == 0:
            log(f"mailbox add: {n}/{len(boxes)}")
    return "mailbox add"


def import_rules(env: dict[str, str], tmp: Path, boxes: list[Box]) -> None:
    """One template and, on every benchmark mailbox, one catch-all rule, via config import."""
    doc: dict[str, Any] = json.loads(mailroom(env, "config", "export").stdout)
    doc["templates"] = [t for t in doc["templates"] if t["name"] != TEMPLATE]
    doc["templates"].append(
        {
            "name": TEMPLATE,
            "type": "text",
            "default_language": "en",
            "translations": [
                {
                    "language": "en",
                    "subject": "Re: {{ subject }}",
                    "body": "Dear {{ sender_name }},\n\nWe received your message.\n",
                }
            ],
        }
    )
    labels = {box.label for box in boxes}
    for mailbox in doc["mailboxes"]:
        if mailbox["label"] in labels:
            # No condition: evaluate() holds for every message (AND over nothing).
            mailbox["rules"] = [
                {"name": RULE, "active": True, "template": TEMPLATE, "conditions": []}
            ]
    path = tmp / "config.json"
    path.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    mailroom(env, "config", "import", str(path))
    check: dict[str, Any] = json.loads(mailroom(env, "config", "export").stdout)
    ready = [
        m
        for m in check["mailboxes"]
        if m["label"] in labels
        and [r["name"] for r in m["rules"] if r["active"]] == [RULE]
        and [f["name"] for f in m["folders"] if f["selected"]] == [INBOX]
    ]
    if len(ready) != len(boxes):
        fail(f"{len(ready)} of {len(boxes)} mailboxes have INBOX and the rule after the import")


# -- IMAP clients -----------------------------------------------------------------------------


class AppendPool:
    """One logged-in IMAP connection per mailbox, each behind a lock (APPENDs never overlap)."""

    def __init__(self, server: DovecotServer, boxes: list[Box], password: str) -> None:
        self.server = server
        self.boxes = boxes
        self.password = password
        self.clients: dict[int, IMAPClient] = {}
        self.locks = {box.index: threading.Lock() for box in boxes}
        # Messages appended to each mailbox's INBOX through this pool (its message count, as
        # nothing else appends there and nothing is expunged).
        self.count: dict[int, int] = defaultdict(int)

    def open(self, workers: int = 16) -> None:
        def login(box: Box) -> tuple[int, IMAPClient]:
            return box.index, self.server.client(box.username, self.password, timeout=60)

        with ThreadPoolExecutor(workers) as pool:
            for index, client in pool.map(login, self.boxes):
                self.clients[index] = client

    def append(self, box: Box, raw: bytes) -> tuple[float, float, int]:
        """APPEND ``raw``; return (monotonic before, monotonic at return, message count)."""
        with self.locks[box.index]:
            before = time.monotonic()
            self.clients[box.index].append(INBOX, raw)
            after = time.monotonic()
            self.count[box.index] += 1
            return before, after, self.count[box.index]

    def close(self) -> None:
        for client in self.clients.values():
            with contextlib.suppress(Exception):
                client.logout()
        self.clients.clear()


class IdleProbe(threading.Thread):
    """A bare IDLE client on one mailbox: stamps every EXISTS the server pushes."""

    def __init__(self, server: DovecotServer, box: Box, password: str) -> None:
        super().__init__(name=f"idle-probe-{box.index}", daemon=True)
        self.box = box
        self.client = server.client(box.username, password, timeout=60)
        selected = self.client.select_folder(INBOX, readonly=True)
        self.initial = int(selected[b"EXISTS"])
        self.events: list[tuple[int, float]] = []
        self.error: str | None = None
        self._stopping = threading.Event()

    def run(self) -> None:
        try:
            self.client.idle()
            renewed = time.monotonic()
            while not self._stopping.is_set():
                for response in self.client.idle_check(timeout=0.5):
                    if len(response) >= 2 and response[1] == b"EXISTS":
                        self.events.append((int(response[0]), time.monotonic()))
                if time.monotonic() - renewed > 600:
                    self.client.idle_done()
                    self.client.idle()
                    renewed = time.monotonic()
            self.client.idle_done()
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"

    def stop(self) -> None:
        self._stopping.set()
        if self.is_alive():
            self.join(10)
        with contextlib.suppress(Exception):
            self.client.logout()

    def delays_ms(self, appends: list[tuple[int, float]]) -> list[float]:
        """For each (message count after the APPEND, APPEND return), the EXISTS delay."""
        delays = []
        for count, returned in appends:
            seen = next((at for n, at in self.events if n >= count), None)
            if seen is not None:
                delays.append((seen - returned) * 1000)
        return delays


# -- the run ----------------------------------------------------------------------------------


@dataclass
class Sent:
    """One timed APPEND."""

    box: int
    before: float
    returned: float
    scheduled: float
    count: int


@dataclass
class Options:
    mailboxes: int
    rate: float
    seconds: float
    grace: float
    idle_clients: int
    idle_sample: int
    seed: int
    workers: int
    keep: bool
    cli_setup: bool
    probe_timeout: float
    shape: str = "embedded"
    pg_server: str = scaleout.PG_SERVER
    database: str = scaleout.DATABASE
    pg_options: str = ""
    watch_processes: int = 2
    capacity: int = 0
    worker_processes: int = 2
    worker_concurrency: int = 1
    sweep_seconds: float = 5.0
    extra: dict[str, Any] = field(default_factory=dict)


def parse_args(doc: str, *, mailboxes: int, rate: float, seconds: float) -> Options:
    """Command-line options shared by both benchmarks; the defaults are each one's."""
    parser = argparse.ArgumentParser(
        description=doc.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--mailboxes", type=int, default=mailboxes, help="watched mailboxes")
    parser.add_argument("--rate", type=float, default=rate, help="APPENDs per second")
    parser.add_argument("--seconds", type=float, default=seconds, help="length of the timed part")
    parser.add_argument(
        "--grace", type=float, default=60, help="seconds to wait for replies after the last APPEND"
    )
    parser.add_argument(
        "--idle-clients", type=int, default=4, help="bare IDLE clients measuring Dovecot's delay"
    )
    parser.add_argument(
        "--idle-sample",
        type=int,
        default=120,
        help="at least this many timed APPENDs go to the IDLE clients' mailboxes",
    )
    parser.add_argument("--seed", type=int, default=42, help="seed of the mailbox choice")
    parser.add_argument("--workers", type=int, default=16, help="threads issuing APPENDs")
    parser.add_argument(
        "--probe-timeout",
        type=float,
        default=0,
        help="seconds for the warm-up probes to be answered (0: 120 + 0.5 s per mailbox)",
    )
    parser.add_argument(
        "--cli-setup",
        action="store_true",
        help="create the mailboxes with one `mailroom mailbox add` each (about 1 s apiece)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories")
    scaleout.add_arguments(parser)
    parser.add_argument(
        "--watch-processes", type=int, default=2, help="scaleout: `mailroom watch` processes"
    )
    parser.add_argument(
        "--capacity",
        type=int,
        default=0,
        help="scaleout: --capacity of each watch process (0: mailboxes / watch processes, "
        "rounded up, so that they split the mailboxes evenly)",
    )
    parser.add_argument(
        "--worker-processes", type=int, default=2, help="scaleout: `mailroom worker` processes"
    )
    parser.add_argument(
        "--worker-concurrency",
        type=int,
        default=1,
        help="scaleout: --concurrency (pool processes) of each worker",
    )
    parser.add_argument(
        "--sweep-seconds", type=float, default=5.0, help="scaleout: `mailroom beat --every`"
    )
    args = parser.parse_args()
    if args.mailboxes < 1 or args.rate <= 0 or args.seconds <= 0 or args.grace < 0:
        parser.error("--mailboxes, --rate and --seconds must be positive, --grace not negative")
    if min(args.watch_processes, args.worker_processes, args.worker_concurrency) < 1:
        parser.error("--watch-processes, --worker-processes and --worker-concurrency must be >= 1")
    return Options(
        mailboxes=args.mailboxes,
        rate=float(args.rate),
        seconds=float(args.seconds),
        grace=args.grace,
        idle_clients=max(0, min(args.idle_clients, args.mailboxes)),
        idle_sample=max(0, args.idle_sample),
        seed=args.seed,
        workers=max(1, args.workers),
        keep=args.keep,
        cli_setup=args.cli_setup,
        probe_timeout=args.probe_timeout or 120 + 0.5 * args.mailboxes,
        shape=args.shape,
        pg_server=args.pg_server,
        database=args.database,
        pg_options=args.pg_options,
        watch_processes=args.watch_processes,
        capacity=args.capacity or -(-args.mailboxes // args.watch_processes),
        worker_processes=args.worker_processes,
        worker_concurrency=args.worker_concurrency,
        sweep_seconds=args.sweep_seconds,
    )


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _note_signal(signum: int, frame: FrameType | None) -> None:
    log("cleaning up; please wait (every step of it is bounded in time)")


def _shield_cleanup() -> None:
    """From now on Ctrl-C and SIGTERM only log: a second one must not cut the clean-up short.

    A signal already pending (a terminal's Ctrl-C reaches both uv and the bench, and uv passes
    it on) may still raise while the handlers are being set, so setting them is retried.
    """
    while True:
        try:
            signal.signal(signal.SIGINT, _note_signal)
            signal.signal(signal.SIGTERM, _note_signal)
            return
        except KeyboardInterrupt:
            continue


def warm_up(
    pool: AppendPool,
    peer: ReplyPeer,
    boxes: list[Box],
    run: str,
    timeout: float,
    cpu: Callable[[], float],
) -> tuple[int, float]:
    """Untimed: APPEND a probe to every mailbox until each is answered once.

    A mailbox answered is one mailroom watches (or has just caught up on). When no answer has
    come for QUIET seconds and mailroom is idle (``cpu``, its CPU seconds, hardly moves), the
    mailboxes still waiting get another probe with a new sender: a watcher that was not
    connected yet may have taken the first one for older mail. Then it waits until mailroom is
    idle, so that the timed part starts with no backlog. Returns (probes sent, seconds).
    """
    quiet = 15.0
    started = time.monotonic()
    deadline = started + timeout
    waiting = {box.index: box for box in boxes}
    asked: dict[str, int] = {}
    number = 0
    while waiting:
        for box in list(waiting.values()):
            number += 1
            message_id, raw = customer_message(run, number, box.email, kind="probe")
            pool.append(box, raw)
            asked[message_id] = box.index
            time.sleep(0.01)
        progress = time.monotonic()
        while waiting:
            before, window, cpu_before = len(waiting), time.monotonic(), cpu()
            missing = peer.wait_for(set(asked), min(deadline, time.monotonic() + 5))
            for message_id in set(asked) - missing:
                waiting.pop(asked[message_id], None)
            now = time.monotonic()
            if len(waiting) < before or _busy(cpu() - cpu_before, now - window):
                progress = now
            log(f"warm-up: {len(boxes) - len(waiting)}/{len(boxes)} mailboxes answered")
            if waiting and now >= deadline:
                fail(f"{len(waiting)} mailboxes never answered a probe within {timeout:.0f} s")
            if now - progress >= quiet:
                log(f"warm-up: mailroom idle for {quiet:.0f} s; probing {len(waiting)} again")
                break
    settle_until = time.monotonic() + max(60.0, deadline - time.monotonic())
    while time.monotonic() < settle_until:
        window, cpu_before = time.monotonic(), cpu()
        time.sleep(3)
        if not _busy(cpu() - cpu_before, time.monotonic() - window):
            break
        log("warm-up: waiting for mailroom to finish its backlog")
    else:
        log("WARNING: mailroom is still busy; the timed part starts anyway")
    return number, time.monotonic() - started


def _busy(cpu_seconds: float, seconds: float) -> bool:
    """Whether a process used more than a fifth of a core over ``seconds``."""
    return cpu_seconds > 0.2 * seconds


def choose_targets(opts: Options, boxes: list[Box], probed: list[Box]) -> list[Box]:
    """The mailbox of each timed APPEND, at random (seeded).

    Exactly max(total x share of the IDLE clients' mailboxes, idle_sample) APPENDs go to the
    IDLE clients' mailboxes, so that Dovecot's delay has a sample of that size; the rest go
    uniformly to the other mailboxes.
    """
    total = max(1, round(opts.rate * opts.seconds))
    rng = random.Random(opts.seed)
    others = [box for box in boxes if box not in probed] or probed
    if not probed:
        return [rng.choice(boxes) for _ in range(total)]
    to_probed = max(round(total * len(probed) / len(boxes)), min(total, opts.idle_sample))
    if others is probed:
        to_probed = total
    positions = set(rng.sample(range(total), to_probed))
    return [rng.choice(probed if n in positions else others) for n in range(total)]


def timed_run(
    opts: Options, pool: AppendPool, peer: ReplyPeer, targets: list[Box], run: str
) -> tuple[dict[str, Sent], list[str], float, float]:
    """APPEND to ``targets`` at opts.rate; return (sent by Message-ID, errors, start, end)."""
    sent: dict[str, Sent] = {}
    errors: list[str] = []
    lock = threading.Lock()

    def send(number: int, box: Box, scheduled: float) -> None:
        message_id, raw = customer_message(run, number, box.email)
        try:
            before, returned, count = pool.append(box, raw)
        except Exception as exc:
            with lock:
                errors.append(f"{box.username}: {type(exc).__name__}: {exc}")
            return
        with lock:
            sent[message_id] = Sent(box.index, before, returned, scheduled, count)

    total = len(targets)
    log(f"timed part: {total} APPENDs at {opts.rate}/s")
    start = time.monotonic() + 0.5
    executor = ThreadPoolExecutor(opts.workers, thread_name_prefix="append")
    try:
        for number, box in enumerate(targets, 1):
            scheduled = start + (number - 1) / opts.rate
            delay = scheduled - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            executor.submit(send, number, box, scheduled)
            if number % max(1, round(opts.rate * 10)) == 0:
                log(f"timed part: {number}/{total} dispatched, {len(peer.arrivals)} replies so far")
    except BaseException:
        # On Ctrl-C, APPENDs not yet started are dropped; those under way finish.
        executor.shutdown(wait=True, cancel_futures=True)
        raise
    executor.shutdown(wait=True)
    end = time.monotonic()
    return sent, errors, start, end


def run_benchmark(tag: str, doc: str, *, mailboxes: int, rate: float, seconds: float) -> None:
    """Parse the options, run the whole benchmark and print its JSON result on stdout."""
    global _tag
    _tag = tag
    opts = parse_args(doc, mailboxes=mailboxes, rate=rate, seconds=seconds)
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    started = time.monotonic()
    try:
        with contextlib.ExitStack() as stack:
            try:
                result = _run(tag, opts, stack)
            finally:
                _shield_cleanup()
    except KeyboardInterrupt:
        log("interrupted; everything is cleaned up")
        raise SystemExit(130) from None
    result["total_seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(result))


def _run(tag: str, opts: Options, stack: contextlib.ExitStack) -> dict[str, Any]:
    """Set everything up (each undo registered on ``stack``), measure, return the result."""
    nofile = raise_nofile()
    # Dovecot sessions at once: mailroom's watchers (and more for its passes), the APPEND
    # pool, the IDLE clients.
    connections = 2 * opts.mailboxes + opts.idle_clients + 128
    if nofile < connections + 256:
        log(f"WARNING: the open-file limit ({nofile}) is low for {connections} connections")
    run = secrets.token_hex(4)
    password = secrets.token_hex(16)
    boxes = [
        Box(i, f"bench{i:04d}", f"box{i:04d}@company.test", f"Bench {i:04d}")
        for i in range(1, opts.mailboxes + 1)
    ]
    tmp = Path(tempfile.mkdtemp(prefix=f"mailroom-bench-{tag}-"))
    stack.callback(_cleanup_tmp, tmp, opts.keep)
    stack.enter_context(inotify_limits(opts.mailboxes + opts.idle_clients + 256, 64 * connections))

    server = DovecotServer(keep_files=opts.keep, extra_config=dovecot_limits(connections))
    stack.callback(server.stop)
    server.start()
    for warning in sorted({line for line in server.log.splitlines() if "Warning" in line}):
        log(f"Dovecot: {warning}")
    for box in boxes:
        server.add_user(box.username, password)
    log(f"Dovecot on 127.0.0.1:{server.port} with {len(boxes)} users (root {server.root})")
    peer = ReplyPeer()
    stack.callback(peer.stop)
    peer.start()
    log(f"SMTP peer on 127.0.0.1:{peer.port}")

    env = mailroom_env(tmp / "data")
    database: scaleout.BenchDatabase | None = None
    if opts.shape == "scaleout":
        database = scaleout.BenchDatabase(opts.pg_server, opts.database, opts.pg_options)
        stack.callback(database.drop)
        database.recreate()
        broker = scaleout.PrivateRedis(tmp / "redis")
        stack.callback(broker.stop)
        broker.start()
        env = scaleout.scaleout_env(env, database.mailroom_url, broker.url)
        log(f"scale-out shape: database {database.name}, private Redis on port {broker.port}")
    setup_started = time.monotonic()
    mailroom(env, "migrate", "--no-input")
    how = create_mailboxes(
        env,
        boxes,
        imap_port=server.port,
        smtp_port=peer.port,
        password=password,
        cli_only=opts.cli_setup,
    )
    import_rules(env, tmp, boxes)
    log(f"mailroom configured ({how}) in {time.monotonic() - setup_started:.1f} s")

    pool = AppendPool(server, boxes, password)
    stack.callback(pool.close)
    pool.open()
    log(f"{len(pool.clients)} APPEND connections open")

    mr: MailroomProcess | scaleout.Fleet
    if opts.shape == "scaleout":
        mr = start_scaleout(opts, env, tmp, stack)
        log(f"{', '.join(c.role for c in mr.children)} started; warming up")
    else:
        mr = MailroomProcess(env, free_port(), tmp / "mailroom-run.log")
        stack.callback(mr.stop)
        mr.start()
        log(f"mailroom run started (pid {mr.pid}); warming up")
    probe_count, warm_seconds = warm_up(pool, peer, boxes, run, opts.probe_timeout, mr.cpu_seconds)
    log(f"warm-up: {probe_count} probes, every mailbox answered, in {warm_seconds:.1f} s")

    probes: list[IdleProbe] = []
    for box in random.Random(opts.seed + 1).sample(boxes, opts.idle_clients):
        probe = IdleProbe(server, box, password)
        stack.callback(probe.stop)
        if probe.initial != pool.count[box.index]:
            fail(f"{box.username}: INBOX holds {probe.initial}, expected {pool.count[box.index]}")
        probes.append(probe)
        probe.start()
    time.sleep(1)

    cpu_before = mr.cpu_seconds()
    shaped = ScaleoutFigures(mr, database) if isinstance(mr, scaleout.Fleet) else None
    targets = choose_targets(opts, boxes, [probe.box for probe in probes])
    sent, errors, start, end = timed_run(opts, pool, peer, targets, run)
    last_return = max((s.returned for s in sent.values()), default=end)
    log(f"timed part done: {len(sent)} APPENDs, {len(errors)} errors; waiting for replies")
    missing = peer.wait_for(set(sent), last_return + opts.grace)
    if not missing:
        time.sleep(1)  # a duplicate usually follows its first copy closely
    waited = time.monotonic() - last_return
    usage = {
        "peak_rss_mb": round(mr.peak_rss_kb() / 1024, 1),
        "cpu_seconds": round(mr.cpu_seconds(), 2),
        "cpu_seconds_timed": round(mr.cpu_seconds() - cpu_before, 2),
        "mailroom_threads": mr.threads(),
    }
    if shaped is not None:
        usage.update(shaped.figures())
    for probe in probes:
        probe.stop()
        if probe.error:
            log(f"IDLE client {probe.box.username}: {probe.error}")
    mr.stop()
    log_errors = sum(
        1 for line in mr.tail(10**9).splitlines() if " ERROR " in line or "Traceback" in line
    )
    for error in errors[:5]:
        log(f"APPEND error: {error}")
    if shaped is not None:
        usage["shape"] = "scaleout"
    return {
        "mailboxes": opts.mailboxes,
        "rate": opts.rate,
        "seconds": opts.seconds,
        **_figures(sent, errors, peer.replies(), probes),
        **usage,
        "mailroom_log_errors": log_errors,
        "achieved_rate": round(len(sent) / max(end - start, 1e-9), 1),
        "waited_seconds": round(waited, 1),
        "warmup_seconds": round(warm_seconds, 1),
        "mailbox_setup": how,
        "seed": opts.seed,
    }


def start_scaleout(
    opts: Options, env: dict[str, str], tmp: Path, stack: contextlib.ExitStack
) -> scaleout.Fleet:
    """The scale-out processes: workers, then beat, then the watch processes; each waited for
    until it says it is ready. They stop in the opposite order (watchers give their leases
    back first)."""
    fleet = scaleout.Fleet([])
    stack.callback(fleet.stop)
    workers = scaleout.start_workers(
        env, tmp, log, count=opts.worker_processes, concurrency=opts.worker_concurrency
    )
    fleet.children[:0] = workers
    beat = scaleout.mailroom_process(
        "beat", ["beat", f"--every={opts.sweep_seconds:g}"], env, tmp, log
    )
    fleet.children.insert(0, beat)
    beat.start()
    scaleout.wait_logged(beat, "sending the sweep")
    watchers = [
        scaleout.mailroom_process(
            f"watch{n}", ["watch", f"--capacity={opts.capacity}"], env, tmp, log
        )
        for n in range(1, opts.watch_processes + 1)
    ]
    for watcher in watchers:
        fleet.children.insert(0, watcher)
        watcher.start()
    for watcher in watchers:
        scaleout.wait_logged(watcher, "watching up to")
    return fleet


class ScaleoutFigures:
    """What the scale-out shape adds to the result: each process by itself, the split of the
    mailboxes between the watch processes, and PostgreSQL's counters over the timed part."""

    def __init__(self, fleet: scaleout.Fleet, database: scaleout.BenchDatabase | None) -> None:
        assert database is not None
        self.fleet = fleet
        self.database = database
        self.cpu_before = {c.role: c.cpu_seconds() for c in fleet.children}
        self.stats_before = scaleout.database_stats(database)

    def figures(self) -> dict[str, Any]:
        processes = scaleout.usage(self.fleet.children)
        for entry in processes:
            entry["cpu_seconds_timed"] = round(
                entry["cpu_seconds"] - self.cpu_before.get(entry["role"], 0.0), 2
            )
        held = self.database.query(
            "SELECT count(*) FROM mailroom_mailbox WHERE watch_until > now()"
            " GROUP BY watch_owner ORDER BY 1 DESC"
        )
        return {
            "processes": processes,
            "mailboxes_held": [count for (count,) in held],
            "dead_processes": [child.role for child in self.fleet.dead()],
            "postgres_timed": scaleout.stats_delta(
                self.stats_before, scaleout.database_stats(self.database)
            ),
        }


def _figures(
    sent: dict[str, Sent],
    errors: list[str],
    replies: dict[str, list[float]],
    probes: list[IdleProbe],
) -> dict[str, Any]:
    """Counts and percentiles of the timed part."""
    latencies = [(replies[mid][0] - s.returned) * 1000 for mid, s in sent.items() if mid in replies]
    idle_delays: list[float] = []
    for probe in probes:
        appends = [(s.count, s.returned) for s in sent.values() if s.box == probe.box.index]
        idle_delays.extend(probe.delays_ms(appends))
    lag = [(s.before - s.scheduled) * 1000 for s in sent.values()]
    append_ms = [(s.returned - s.before) * 1000 for s in sent.values()]
    p = {q: percentile(latencies, q) for q in (50, 90, 99, 100)}
    d = {q: percentile(idle_delays, q) for q in (50, 99)}
    return {
        "sent": len(sent),
        "append_errors": len(errors),
        "replies": len(latencies),
        "missed": len(sent) - len(latencies),
        "duplicated": sum(1 for mid in sent if len(replies.get(mid, ())) > 1),
        "unmatched_replies": sum(
            len(times)
            for key, times in replies.items()
            if key not in sent and not key.startswith("<probe")
        ),
        "latency_ms_p50": rounded(p[50]),
        "latency_ms_p90": rounded(p[90]),
        "latency_ms_p99": rounded(p[99]),
        "latency_ms_max": rounded(p[100]),
        "server_idle_delay_ms_p50": rounded(d[50]),
        "server_idle_delay_ms_p99": rounded(d[99]),
        "server_idle_samples": len(idle_delays),
        "added_latency_ms_p50": rounded(_diff(p[50], d[50])),
        "added_latency_ms_p99": rounded(_diff(p[99], d[99])),
        "append_ms_p50": rounded(percentile(append_ms, 50)),
        "append_ms_p99": rounded(percentile(append_ms, 99)),
        "dispatch_lag_ms_max": rounded(max(lag, default=None)),
    }


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _cleanup_tmp(tmp: Path, keep: bool) -> None:
    if keep:
        log(f"kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
