"""Benchmark the web UI: 50 clients reading a 100,000-message mailbox for 60 s.

usage: python bench/web.py [--messages 100000] [--clients 50] [--seconds 60] [--seed 42]
                           [--keep DIR] [--think MS] [--solo N] [--quick]

1. A data directory (a temporary one, or ``--keep DIR``, reused when it already holds a mailbox
   of that size and seed) gets one mailbox of MESSAGES messages, written straight into the
   store: realistic mail built with the vocabulary, names and domains of
   ``../shared/bench/gen_corpus.py`` (plain and multipart/alternative, some non-ASCII, replies
   with In-Reply-To) and, spread among them, every message of ``../shared/corpus/mixed/``. Each
   is parsed by mailroom's own parser (``row_values(parse_message(raw))``, the store's code), and
   written with the store's bulk insert (``insert_rows``) in big transactions: message rows,
   raw bytes, processing records (done), contacts and conversations (replies join their thread).
   The full-text index fills itself (migration 0014's triggers).
2. ``mailroom run --no-watch`` (waitress, SQLite; no IMAP watcher, the mailbox has no server)
   runs in a subprocess on that data directory.
3. CLIENTS threads each log in through the login form (a session cookie of their own) and keep
   one HTTP/1.1 connection open (``http.client``). First one client alone requests each kind
   SOLO times (the service time, with nothing queued in front). Then, for SECONDS after a short
   warm-up, every client requests at random, back to back (or pausing THINK ms on average): the
   message list's first page, a deep page (a cursor half-way down the mailbox), a search (in
   turn: common words, a product, a sender, an order number, a prefix), and a message page (a
   random message). Each response must be 200 and hold what it promises (a list row, a heading).

Until the message list (``message-list``, ``/mailboxes/<id>/mail/``) exists, the mailbox page
``/mailboxes/<id>/`` stands in for the first page and deep pages and searches are skipped.

Prints one JSON object on stdout: per endpoint kind the count, errors, p50/p95/p99/max in ms;
overall p95, requests/s, the target (p95 <= 50 ms, no errors) and whether it was met, and the CPU
seconds of the server and of the clients (the clients must not be the bottleneck). Progress goes
to stderr. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import importlib.util
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.header import Header
from email.utils import format_datetime, formataddr
from html import unescape
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from procs import ChildProcess  # noqa: E402

ADMIN_EMAIL = "bench-admin@example.test"
ADMIN_PASSWORD = "bench-web-pw-4Rt!"  # noqa: S105 (a throwaway installation)
MAILBOX_LABEL = "Support"
META = "bench-web.json"
TARGET_P95_MS = 50.0
KINDS = ("first_page", "deep_page", "search", "message")
# Where the deep page starts: this far down the mailbox, newest first.
DEEP_AT = 0.5
# Searches, in turn: a word in most mail, a product name, a sender's name, a customer's order
# number (a handful of messages), two words, and a word with the prefix match still typing.
# (gen_corpus's vocabulary is 36 words, so each of its words is in most messages: the common
# searches are the hard case for a full-text index, which must read every match.)
SEARCHES = ("invoice", "cobalt", "tanaka", "{order}", "refund delivery", "partn")
# The newest message's arrival, and the time between two messages' arrivals.
NEWEST = datetime(2026, 11, 1, tzinfo=UTC)
STEP_SECONDS = 300


def log(text: str) -> None:
    print(f"[web] {text}", file=sys.stderr, flush=True)


# --- generating the mailbox (runs in a child process, with Django set up) -------------------


def _gen_corpus() -> ModuleType:
    """``../shared/bench/gen_corpus.py``, for its vocabulary, names and domains."""
    path = SHARED / "bench" / "gen_corpus.py"
    spec = importlib.util.spec_from_file_location("gen_corpus", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PRODUCTS = ("Aster 200", "Borealis X", "Cobalt Pro", "Delta hub", "Ember mini", "Fjord 3")


@dataclass
class Thread:
    """A conversation being written: its subject, customer, and the last Message-ID."""

    index: int
    subject: str
    name: str
    address: str
    last_id: str
    size: int = 1


@dataclass
class Generated:
    """One message to store: its bytes, arrival, and thread."""

    uid: int
    raw: bytes
    arrival: datetime
    thread: int


def _header(value: str) -> str:
    return value if value.isascii() else Header(value, "utf-8").encode()


def _compose(
    rng: random.Random, corpus: ModuleType, uid: int, arrival: datetime, thread: Thread, reply: bool
) -> bytes:
    words = corpus.WORDS
    paragraphs = [corpus.para(rng, rng.randint(15, 70)) for _ in range(rng.randint(2, 9))]
    if rng.random() < 0.4:
        paragraphs.insert(1, f"It is about {rng.choice(PRODUCTS)}, order {thread.index:06d}.")
    body = "\n\n".join(paragraphs) + f"\n\nKind regards,\n{thread.name}\n"
    if reply:
        body += "\n> " + corpus.para(rng, 20) + "\n"
    subject = ("Re: " if reply else "") + thread.subject
    message_id = f"<bench-{uid}.{rng.getrandbits(32):08x}@{thread.address.split('@')[1]}>"
    lines = [
        f"Return-Path: <{thread.address}>",
        f"From: {formataddr((thread.name, thread.address))}",
        "To: Support <support@company.test>",
        f"Subject: {_header(subject)}",
        f"Date: {format_datetime(arrival)}",
        f"Message-ID: {message_id}",
    ]
    if reply:
        lines += [f"In-Reply-To: {thread.last_id}", f"References: {thread.last_id}"]
    thread.last_id = message_id
    lines.append("MIME-Version: 1.0")
    if rng.random() < 0.4:
        html = "<html><body>" + "".join(f"<p>{p}</p>" for p in paragraphs) + "<table>"
        html += "".join(
            f"<tr><td>{rng.choice(words)}</td><td>{rng.randint(1, 999)}</td></tr>"
            for _ in range(rng.randint(3, 15))
        )
        html += "</table></body></html>"
        boundary = f"=_bench_{uid}"
        lines += [f'Content-Type: multipart/alternative; boundary="{boundary}"', ""]
        lines += [f"--{boundary}", "Content-Type: text/plain; charset=utf-8"]
        lines += ["Content-Transfer-Encoding: 8bit", "", body]
        lines += [f"--{boundary}", "Content-Type: text/html; charset=utf-8"]
        lines += ["Content-Transfer-Encoding: 8bit", "", html, f"--{boundary}--", ""]
    else:
        lines += ["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"]
        lines += ["", body]
    return "\r\n".join(lines).replace("\n", "\r\n").replace("\r\r\n", "\r\n").encode()


def _messages(count: int, seed: int) -> Iterator[Generated]:
    """The mailbox's mail, oldest first: new conversations and replies to recent ones, with the
    shared corpus's real messages spread among them."""
    corpus = _gen_corpus()
    rng = random.Random(seed)
    real = sorted((SHARED / "corpus" / "mixed").glob("*.eml"))
    every = max(count // max(len(real), 1), 2) if real else 0
    threads: list[Thread] = []
    open_threads: list[Thread] = []
    oldest = NEWEST - timedelta(seconds=STEP_SECONDS * (count - 1))
    for i in range(count):
        uid = i + 1
        arrival = oldest + timedelta(seconds=STEP_SECONDS * i)
        if real and i % every == every // 2:
            raw = real.pop().read_bytes()
            thread = Thread(len(threads), "", "", "", "")
            threads.append(thread)
            yield Generated(uid, raw, arrival, thread.index)
            continue
        reply = bool(open_threads) and rng.random() < 0.45
        if reply:
            thread = rng.choice(open_threads)
            thread.size += 1
        else:
            name = rng.choice(corpus.NAMES)
            local = name.split()[0].lower().encode("ascii", "ignore").decode()
            address = f"{local}{rng.randint(1, 1500)}@{rng.choice(corpus.DOMAINS)}"
            subject = " ".join(rng.choice(corpus.WORDS) for _ in range(rng.randint(3, 8)))
            subject = subject.capitalize()
            if rng.random() < 0.3:
                subject += f" ({rng.choice(PRODUCTS)})"
            if rng.random() < 0.08:
                subject += " — ünïcödé 日本語"
            thread = Thread(len(threads), subject, name, address, "")
            threads.append(thread)
            open_threads.append(thread)
            if len(open_threads) > 400:
                open_threads.pop(rng.randrange(len(open_threads)))
        yield Generated(
            uid, _compose(rng, corpus, uid, arrival, thread, reply), arrival, thread.index
        )


def _parse(item: Generated) -> tuple[Generated, dict[str, Any]]:
    from mailroom.mime.parse import parse_message
    from mailroom.store.incoming import row_values

    fields, _attachments = row_values(parse_message(item.raw))
    return item, fields


def generate(data_dir: Path, count: int, seed: int) -> dict[str, Any]:
    """Create the mailbox in ``data_dir``'s database (Django is set up for it)."""
    import multiprocessing

    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from mailroom.mailboxes.actions import MailboxInput, save_mailbox, set_folders
    from mailroom.models import Folder, Mailbox, MailboxStatus, Message

    started = time.monotonic()
    call_command("migrate", interactive=False, verbosity=0)
    mailbox = save_mailbox(
        MailboxInput(
            label=MAILBOX_LABEL,
            email="support@company.test",
            imap_host="imap.company.test",
            smtp_host="smtp.company.test",
        ),
        password="not-used",  # noqa: S106 (no server behind it)
    )
    set_folders(mailbox, known=["INBOX"], selected=["INBOX"])
    folder = Folder.objects.get(mailbox=mailbox, name="INBOX")
    contacts: dict[str, int] = {}
    conversations: dict[int, int] = {}
    chunk = 5000
    # Parsing is the slow part: a process per core (forked, Django already set up).
    connection.close()
    pool = multiprocessing.get_context("fork").Pool(os.cpu_count() or 1)
    try:
        batch: list[tuple[Generated, dict[str, Any]]] = []
        for parsed in pool.imap(_parse, _messages(count, seed), chunksize=200):
            batch.append(parsed)
            if len(batch) == chunk:
                _store(batch, mailbox, folder, contacts, conversations)
                batch = []
                log(f"stored {parsed[0].uid:,} of {count:,} ({time.monotonic() - started:.0f} s)")
        if batch:
            _store(batch, mailbox, folder, contacts, conversations)
    finally:
        pool.close()
        pool.join()
    now = timezone.now()
    Folder.objects.filter(pk=folder.pk).update(
        uidvalidity=1,
        last_uid=count,
        imported=count,
        backlog=0,
        last_synced_at=now,
        account_version=mailbox.account_version,
    )
    Mailbox.objects.filter(pk=mailbox.pk).update(status=MailboxStatus.OK, last_synced_at=now)
    ids = list(Message.objects.filter(mailbox=mailbox).order_by("id").values_list("id", flat=True))
    deep_index = int(count * (1 - DEEP_AT))
    deep = Message.objects.get(mailbox=mailbox, uid=deep_index + 1)
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cursor.execute("ANALYZE")
    return {
        "messages": count,
        "seed": seed,
        "mailbox_id": mailbox.pk,
        "first_id": ids[0],
        "last_id": ids[-1],
        "contiguous": ids[-1] - ids[0] + 1 == len(ids),
        "conversations": len(conversations),
        "contacts": len(contacts),
        "deep": {"id": deep.pk, "arrival": (deep.internal_date or NEWEST).isoformat()},
        "generation_seconds": round(time.monotonic() - started, 1),
    }


def _store(
    batch: list[tuple[Generated, dict[str, Any]]],
    mailbox: Any,
    folder: Any,
    contacts: dict[str, int],
    conversations: dict[int, int],
) -> None:
    """One chunk in one transaction, the way the store and the pipeline leave it."""
    from django.db import transaction
    from django.utils import timezone

    from mailroom.models import Contact, Conversation, Message, ProcessingRecord, ProcessingState
    from mailroom.store.raw import digest_of, save_raw_many
    from mailroom.store.rows import insert_returning_ids, insert_rows

    now = timezone.now()
    with transaction.atomic():
        new_contacts = {}
        for _item, fields in batch:
            email = str(fields["from_email"]).lower()
            if email and email not in contacts:
                new_contacts[email] = str(fields["from_name"])
        insert_rows(
            Contact,
            [{"email": e, "name": n, "created_at": now} for e, n in new_contacts.items()],
            ignore_conflicts=True,
        )
        if new_contacts:
            contacts.update(
                Contact.objects.filter(email__in=list(new_contacts)).values_list("email", "id")
            )
        starts = []
        for item, _fields in batch:
            if item.thread not in conversations and item.thread not in starts:
                starts.append(item.thread)
        first = {item.thread: fields for item, fields in reversed(batch)}
        new_ids = insert_returning_ids(
            Conversation,
            [
                {
                    "mailbox_id": mailbox.pk,
                    "subject": str(first[t]["subject"]),
                    "contact_id": contacts.get(str(first[t]["from_email"]).lower()),
                    "created_at": now,
                }
                for t in starts
            ],
        )
        conversations.update(zip(starts, new_ids, strict=True))
        digests = {item.uid: digest_of(item.raw) for item, _fields in batch}
        save_raw_many({digests[item.uid]: item.raw for item, _fields in batch})
        insert_rows(
            Message,
            [
                {
                    "mailbox_id": mailbox.pk,
                    "folder_id": folder.pk,
                    "uidvalidity": 1,
                    "uid": item.uid,
                    "raw_size": len(item.raw),
                    "sha256": digests[item.uid],
                    "internal_date": item.arrival,
                    "received_at": item.arrival,
                    "account_version": mailbox.account_version,
                    "conversation_id": conversations[item.thread],
                    "contact_id": contacts.get(str(fields["from_email"]).lower()),
                    **fields,
                }
                for item, fields in batch
            ],
            batch=1000,
        )
        ids = dict(
            Message.objects.filter(
                folder=folder, uidvalidity=1, uid__in=[item.uid for item, _ in batch]
            ).values_list("uid", "id")
        )
        insert_rows(
            ProcessingRecord,
            [
                {
                    "message_id": ids[item.uid],
                    "state": ProcessingState.DONE,
                    "steps": [
                        {"step": "classify", "outcome": "ok", "detail": ""},
                        {"step": "thread", "outcome": "ok", "detail": ""},
                        {"step": "process", "outcome": "ok", "detail": "kept in the mailbox"},
                    ],
                    "outcome": "kept in the mailbox",
                    "attempts": 1,
                    "processed_at": now,
                    "conversation_id": conversations[item.thread],
                }
                for item, _fields in batch
            ],
            batch=1000,
        )


def _migrations() -> dict[str, str]:
    """Each migration file's SHA-256: a kept database is stale once one of those it was built
    with has changed (Django does not apply an edited migration again)."""
    folder = ROOT / "mailroom" / "migrations"
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.glob("[0-9]*.py"))
    }


def _generate_main(data_dir: Path, count: int, seed: int) -> None:
    import django

    django.setup()
    meta = generate(data_dir, count, seed)
    meta["migrations"] = _migrations()
    (data_dir / META).write_text(json.dumps(meta, indent=2))


# --- the server ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(data_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MAILROOM_") and k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")
    }
    env.update(
        MAILROOM_DATA_DIR=str(data_dir),
        MAILROOM_ADMIN_EMAIL=ADMIN_EMAIL,
        MAILROOM_ADMIN_PASSWORD=ADMIN_PASSWORD,
        DJANGO_SETTINGS_MODULE="mailroom.settings",
        PYTHONUNBUFFERED="1",
    )
    return env


def prepare(data_dir: Path, count: int, seed: int) -> dict[str, Any]:
    """The generated mailbox's description, generating it first unless ``data_dir`` holds it."""
    meta_path = data_dir / META
    if meta_path.exists():
        meta: dict[str, Any] = json.loads(meta_path.read_text())
        now = _migrations()
        changed = [
            name for name, digest in meta.get("migrations", {}).items() if now.get(name) != digest
        ]
        if changed or "migrations" not in meta:
            raise SystemExit(
                f"{data_dir} was generated with other migrations ({', '.join(changed) or 'unknown'}"
                "): its indexes are not today's; generate it again in an empty directory"
            )
        if meta.get("messages") == count and meta.get("seed") == seed:
            log(f"reusing the {count:,}-message mailbox in {data_dir}")
            meta["reused"] = True
            return meta
        raise SystemExit(f"{data_dir} holds another mailbox ({meta_path}); use an empty --keep")
    if any(data_dir.iterdir()):
        raise SystemExit(f"{data_dir} is not empty and holds no {META}; use an empty directory")
    log(f"generating {count:,} messages (seed {seed}) into {data_dir}")
    child = ChildProcess(
        "generate",
        [sys.executable, __file__, "--generate", str(data_dir), str(count), str(seed)],
        _env(data_dir),
        data_dir / "generate.log",
        cwd=str(ROOT),
        say=log,
    )
    child.start()
    try:
        assert child.proc is not None
        while child.proc.poll() is None:
            time.sleep(0.5)
        if child.proc.returncode != 0 or not meta_path.exists():
            raise SystemExit(f"generating failed:\n{child.tail()}")
    finally:
        child.stop()
    meta = json.loads(meta_path.read_text())
    meta["reused"] = False
    return meta


# --- the clients -----------------------------------------------------------------------------

_CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_OLDER = re.compile(r'<a[^>]*href="([^"]*before=[^"]*)"[^>]*>[^<]*Older', re.IGNORECASE)
_ROW = re.compile(r'href="/messages/(\d+)/(?:\?[^"]*)?"')


class Session:
    """One client: a keep-alive connection and its own session cookie."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.conn = self._connect()

    def _connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def request(
        self, method: str, path: str, body: str | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=sent)
                response = self.conn.getresponse()
                data = response.read()
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = self._connect()
                if attempt == 2:
                    raise
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key.strip()] = rest.split(";", 1)[0]
            if name.lower() == "connection" and value.lower() == "close":
                self.conn.close()
                self.conn = self._connect()
        return response.status, dict(response.getheaders()), data

    def login(self) -> None:
        status, _headers, page = self.request("GET", "/login/")
        found = _CSRF_INPUT.search(page.decode())
        if status != 200 or found is None:
            raise SystemExit(f"login page: {status}")
        form = urllib.parse.urlencode(
            {
                "username": ADMIN_EMAIL,
                "password": ADMIN_PASSWORD,
                "csrfmiddlewaretoken": found.group(1),
            }
        )
        status, headers, _ = self.request(
            "POST",
            "/login/",
            body=form,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        if status != 302 or "sessionid" not in self.cookies:
            raise SystemExit(f"login failed: {status} {headers.get('Location')}")


def _logged_in(port: int) -> Session:
    session = Session(port)
    session.login()
    return session


@dataclass
class Plan:
    """What the clients request: a URL per kind (the message page's is a template)."""

    urls: dict[str, list[str]]
    first_id: int
    last_id: int
    mode: str

    def pick(self, kind: str, rng: random.Random) -> str:
        if kind == "message":
            return f"/messages/{rng.randint(self.first_id, self.last_id)}/"
        return rng.choice(self.urls[kind])


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})
    errors: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    samples: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in KINDS})
    lock: threading.Lock = field(default_factory=threading.Lock)


def _cursor_micros(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _order_number(data_dir: Path, meta: dict[str, Any]) -> str:
    """An order number one conversation names (a search that finds a handful of messages),
    read from the database file, read-only, near the middle of the mailbox."""
    db = sqlite3.connect(f"file:{data_dir / 'mailroom.sqlite3'}?mode=ro", uri=True)
    try:
        middle = (meta["first_id"] + meta["last_id"]) // 2
        rows = db.execute(
            "SELECT text_body FROM mailroom_message WHERE id BETWEEN ? AND ?",
            (middle, middle + 500),
        ).fetchall()
    finally:
        db.close()
    for (body,) in rows:
        found = re.search(r", order (\d{6})\.", body)
        if found:
            return found.group(1)
    raise SystemExit("no order number found in the generated mail")


def plan(session: Session, meta: dict[str, Any], data_dir: Path) -> Plan:
    """The URLs of each kind, found the way a person finds them: the list's own links."""
    mailbox = meta["mailbox_id"]
    base = f"/mailboxes/{mailbox}/mail/"
    status, _h, page = session.request("GET", base)
    if status == 404:
        log("the message list is not in place: the mailbox page stands in for it")
        return Plan(
            {"first_page": [f"/mailboxes/{mailbox}/"], "deep_page": [], "search": []},
            meta["first_id"],
            meta["last_id"],
            "mailbox page (no message list yet)",
        )
    if status != 200:
        raise SystemExit(f"{base}: {status}")
    older = _OLDER.search(page.decode())
    if older is None:
        raise SystemExit(f"{base}: no link to older mail")
    link = unescape(older.group(1))
    cursor = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["before"][0]
    # The deep page: the cursor of the message half-way down, written as the list writes its
    # own (checked against the link just read), else reached by following "Older" links.
    micros, _, last = cursor.partition("_")
    arrival = NEWEST - timedelta(seconds=STEP_SECONDS * (meta["last_id"] - int(last or 0)))
    if meta["contiguous"] and last.isdigit() and int(micros) == _cursor_micros(arrival):
        deep_arrival = datetime.fromisoformat(meta["deep"]["arrival"])
        deep = f"{base}?before={_cursor_micros(deep_arrival)}_{meta['deep']['id']}"
        log(f"deep page: {deep} (half-way down)")
    else:
        deep = link
        for _ in range(40):
            status, _h, page = session.request("GET", deep)
            found = _OLDER.search(page.decode())
            if status != 200 or found is None:
                break
            deep = unescape(found.group(1))
        log(f"deep page: {deep} (followed the Older links)")
    order = _order_number(data_dir, meta)
    searches = [f"{base}?q={urllib.parse.quote(text.format(order=order))}" for text in SEARCHES]
    return Plan(
        {"first_page": [base], "deep_page": [deep], "search": searches},
        meta["first_id"],
        meta["last_id"],
        "message list",
    )


def _check(kind: str, status: int, body: bytes) -> bool:
    if status != 200:
        return False
    if kind == "message":
        return b"<h1" in body
    # A list page holds rows, except a search that found nothing.
    return kind == "search" or _ROW.search(body.decode(errors="replace")) is not None


def client(
    session: Session,
    the_plan: Plan,
    kinds: list[str],
    seed: int,
    start: float,
    measure_from: float,
    stop: float,
    results: Results,
    think: float = 0.0,
) -> None:
    rng = random.Random(seed)
    latencies: dict[str, list[float]] = {k: [] for k in KINDS}
    errors = dict.fromkeys(KINDS, 0)
    samples: dict[str, list[str]] = {k: [] for k in KINDS}
    while time.monotonic() < start:
        time.sleep(0.001)
    while True:
        now = time.monotonic()
        if now >= stop:
            break
        kind = rng.choice(kinds)
        url = the_plan.pick(kind, rng)
        began = time.perf_counter()
        try:
            status, _headers, body = session.request("GET", url)
            ok = _check(kind, status, body)
        except (http.client.HTTPException, OSError) as error:
            ok, status = False, 0
            body = str(error).encode()
        elapsed = (time.perf_counter() - began) * 1000
        if think:
            time.sleep(rng.expovariate(1 / think))
        if now < measure_from:
            continue
        latencies[kind].append(elapsed)
        if not ok:
            errors[kind] += 1
            if len(samples[kind]) < 3:
                samples[kind].append(f"{status} {url}: {body[:200]!r}")
    with results.lock:
        for kind in KINDS:
            results.latencies[kind] += latencies[kind]
            results.errors[kind] += errors[kind]
            results.samples[kind] += samples[kind][: 3 - len(results.samples[kind])]


def solo(session: Session, the_plan: Plan, kinds: list[str], rounds: int) -> dict[str, Any]:
    """Each kind requested ``rounds`` times by one client alone: the time a request takes
    when none waits in front of it (the service time the concurrent figures queue behind)."""
    rng = random.Random(0)
    out: dict[str, Any] = {}
    for kind in kinds:
        times: list[float] = []
        errors = 0
        for _ in range(rounds):
            url = the_plan.pick(kind, rng)
            began = time.perf_counter()
            status, _headers, body = session.request("GET", url)
            times.append((time.perf_counter() - began) * 1000)
            errors += not _check(kind, status, body)
        out[kind] = summary(times, errors)
    return out


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile of sorted ``values``."""
    if not values:
        return 0.0
    rank = max(1, -(-len(values) * p // 100))
    return values[int(rank) - 1]


def summary(values: list[float], errors: int) -> dict[str, Any]:
    values = sorted(values)
    return {
        "count": len(values),
        "errors": errors,
        "p50_ms": round(percentile(values, 50), 1),
        "p95_ms": round(percentile(values, 95), 1),
        "p99_ms": round(percentile(values, 99), 1),
        "max_ms": round(values[-1], 1) if values else 0.0,
        "mean_ms": round(sum(values) / len(values), 1) if values else 0.0,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    temporary = args.keep is None
    data_dir = Path(tempfile.mkdtemp(prefix="bench-web-")) if temporary else Path(args.keep)
    data_dir.mkdir(parents=True, exist_ok=True)
    server: ChildProcess | None = None
    try:
        meta = prepare(data_dir, args.messages, args.seed)
        port = _free_port()
        server = ChildProcess(
            "mailroom run",
            [
                str(Path(sys.executable).with_name("mailroom")),
                "run",
                "--no-watch",
                "--bind",
                f"127.0.0.1:{port}",
            ],
            _env(data_dir),
            data_dir / "run.log",
            cwd=str(ROOT),
            say=log,
        )

        def answering() -> bool:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                return True
            return False

        log(f"starting mailroom run on port {port}")
        server.start(answering, timeout=120, what="listening")
        log(f"logging in {args.clients} clients through the login form")
        # A few at a time: each login hashes the password (PBKDF2), on the server's one core.
        with ThreadPoolExecutor(4) as pool:
            sessions = list(pool.map(lambda _: _logged_in(port), range(args.clients)))
        if len(sessions) != args.clients:
            raise SystemExit("not every client could log in")
        the_plan = plan(sessions[0], meta, data_dir)
        kinds = [k for k in KINDS if k == "message" or the_plan.urls.get(k)]
        log("one client alone, to measure each kind's service time")
        solo(sessions[0], the_plan, kinds, 5)  # warm the caches
        alone = solo(sessions[0], the_plan, kinds, args.solo)
        load_before = os.getloadavg()
        results = Results()
        warmup = min(5.0, args.seconds / 4)
        start = time.monotonic() + 0.5
        measure_from = start + warmup
        stop = measure_from + args.seconds
        server_cpu = [0.0, 0.0]
        client_cpu = [0.0, 0.0]
        threads = [
            threading.Thread(
                target=client,
                args=(s, the_plan, kinds, args.seed + n, start, measure_from, stop, results),
                kwargs={"think": args.think / 1000},
                daemon=True,
            )
            for n, s in enumerate(sessions)
        ]
        log(f"{args.clients} clients for {warmup:.0f} s of warm-up and {args.seconds} s measured")
        for thread in threads:
            thread.start()
        time.sleep(max(0.0, measure_from - time.monotonic()))
        server_cpu[0], client_cpu[0] = server.cpu_seconds(), time.process_time()
        time.sleep(max(0.0, stop - time.monotonic()))
        server_cpu[1], client_cpu[1] = server.cpu_seconds(), time.process_time()
        for thread in threads:
            thread.join()
        measured = args.seconds
        everything = [v for k in KINDS for v in results.latencies[k]]
        total_errors = sum(results.errors.values())
        overall = summary(everything, total_errors)
        met = overall["p95_ms"] <= TARGET_P95_MS and total_errors == 0 and overall["count"] > 0
        db = data_dir / "mailroom.sqlite3"
        return {
            "bench": "web",
            "server": "mailroom run --no-watch (waitress, SQLite)",
            "list": the_plan.mode,
            "messages": meta["messages"],
            "conversations": meta["conversations"],
            "seed": meta["seed"],
            "clients": args.clients,
            "seconds": measured,
            "warmup_seconds": warmup,
            "urls": {
                "first_page": the_plan.urls.get("first_page", []),
                "deep_page": the_plan.urls.get("deep_page", []),
                "search": the_plan.urls.get("search", []),
                "message": f"/messages/<random id of {meta['first_id']}..{meta['last_id']}>/",
            },
            "endpoints": {
                k: summary(results.latencies[k], results.errors[k]) for k in KINDS if k in kinds
            },
            "overall": overall,
            "requests_per_s": round(overall["count"] / measured, 1),
            "think_ms": args.think,
            "one_client_alone": alone,
            "target": {"p95_ms": TARGET_P95_MS, "errors": 0},
            "pass": met,
            "error_samples": {k: v for k, v in results.samples.items() if v},
            "server_cpu_s": round(server_cpu[1] - server_cpu[0], 1),
            # What a request costs the server, whatever else runs on the machine: its requests
            # run on one core (the GIL), so 1000 / this is about the most it serves per second.
            "server_cpu_ms_per_request": round(
                1000 * (server_cpu[1] - server_cpu[0]) / max(overall["count"], 1), 1
            ),
            "client_cpu_s": round(client_cpu[1] - client_cpu[0], 1),
            "cpus": os.cpu_count(),
            # Other work on the machine (1-minute load average) before and after the run.
            "loadavg": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
            "generation_seconds": meta["generation_seconds"],
            "reused_data": meta["reused"],
            "database_mb": round(db.stat().st_size / 1e6, 1) if db.exists() else None,
        }
    finally:
        if server is not None:
            server.stop()
        if temporary:
            shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--generate":
        _generate_main(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else "")
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", help="data directory to generate into, or to reuse")
    parser.add_argument(
        "--think", type=float, default=0.0, help="mean pause of a client between requests (ms)"
    )
    parser.add_argument(
        "--solo", type=int, default=20, help="requests of each kind by one client alone first"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: 5,000 messages, 10 clients, 10 s"
    )
    args = parser.parse_args()
    if args.quick:
        args.messages, args.clients, args.seconds = 5_000, 10, 10
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    print(json.dumps(run(args), indent=2))


if __name__ == "__main__":
    main()
