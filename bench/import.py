"""Benchmark a first import: ``mailroom sync --once`` against ``mbsync`` on the same Dovecot folder.

usage: python bench/import.py [--count 20000] [--seed 42] [--keep]

Fills the INBOX of a throwaway Dovecot (``tests.servers.dovecot.DovecotServer``) with the
reproducible corpus of ``../shared/bench/gen_corpus.py``, each file's mtime (Dovecot's
INTERNALDATE) set to its Date header. Dovecot indexes the folder once, untimed. Then, in a fresh
data directory (SQLite), the real console script configures one mailbox (processor ``none``) with
one active autoresponse rule (subject contains "refund") and ``mailroom sync --once`` imports the
folder: only that command is timed. Then ``mbsync -a`` pulls the same folder into a fresh local
Maildir, timed the same way (wall clock around the subprocess). Both counts are checked.

``--shape scaleout`` times the same import on PostgreSQL with 1 and 2 ``mailroom worker``
processes (a private Redis as the broker), in one folder and spread over four, from the sync
tasks being enqueued to every message stored and processed, beside mbsync; see bench/README.md.

Prints one JSON object on stdout; progress goes to stderr. Everything lives in a temporary
directory, removed at the end unless ``--keep`` is given.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, NoReturn

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared"
GEN_CORPUS = SHARED / "bench" / "gen_corpus.py"

# The Dovecot fixture lives in tests/, which is not installed with the package.
sys.path.insert(0, str(ROOT))
from tests.servers.dovecot import DovecotServer  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scaleout  # noqa: E402
from procs import ChildProcess  # noqa: E402

USERNAME = "bench"
MAILBOX_EMAIL = "support@company.test"
_DATE_RE = re.compile(rb"^Date:[ \t]*(.+?)\r?$", re.MULTILINE | re.IGNORECASE)


def log(text: str) -> None:
    """Progress for the person watching; stdout is kept for the JSON result."""
    print(f"[import] {text}", file=sys.stderr, flush=True)


def fail(text: str) -> NoReturn:
    """Stop the benchmark with a message; the caller's finally blocks tear down."""
    raise SystemExit(f"[import] FAILED: {text}")


def header_date(raw: bytes) -> datetime | None:
    """The Date header of ``raw``, or None when it is missing or unreadable."""
    head = raw.split(b"\n\n", 1)[0]
    match = _DATE_RE.search(head)
    if match is None:
        return None
    try:
        return parsedate_to_datetime(match.group(1).decode("ascii", "replace"))
    except (TypeError, ValueError):
        return None


def generate_corpus(target: Path, count: int, seed: int) -> tuple[list[Path], int]:
    """Run gen_corpus.py into the Maildir ``target``; return its files and their total size."""
    result = subprocess.run(
        ["python3", str(GEN_CORPUS), str(target), str(count), str(seed)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        fail(f"gen_corpus.py exited {result.returncode}:\n{result.stderr}")
    log(f"gen_corpus: {result.stdout.strip()}")
    files = sorted((target / "new").iterdir())
    if len(files) != count:
        fail(f"gen_corpus.py wrote {len(files)} files, expected {count}")
    return files, sum(f.stat().st_size for f in files)


def fill_inbox(server: DovecotServer, files: list[Path]) -> None:
    """Deliver each file into the user's INBOX (ownership and mtime handled by the fixture).

    The mtime is the message's INTERNALDATE in Dovecot's Maildir, so it is set to the Date header,
    as if the mail had arrived then: the autoresponse age limit then applies as intended.
    """
    for path in files:
        raw = path.read_bytes()
        server.deliver_maildir(USERNAME, "INBOX", raw, internal_date=header_date(raw))
        path.unlink()


def warm_index(
    server: DovecotServer,
    password: str,
    count: int,
    *,
    username: str = USERNAME,
    folders: tuple[str, ...] = ("INBOX",),
) -> None:
    """SELECT each folder and UID SEARCH ALL once, so Dovecot has built its index before
    timing; check the folders hold ``count`` messages in all."""
    client = server.client(username, password, timeout=600)
    held = 0
    try:
        for folder in folders:
            client.select_folder(folder)
            held += len(client.search(["ALL"]))
    finally:
        client.logout()
    if held != count:
        fail(f"{username}'s {', '.join(folders)} hold {held} messages, expected {count}")


def mailroom_env(data_dir: Path) -> dict[str, str]:
    """The environment of a fresh mailroom: our data directory, SQLite, default settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MAILROOM_") and k != "DJANGO_SETTINGS_MODULE"
    }
    env["MAILROOM_DATA_DIR"] = str(data_dir)
    env["MAILROOM_ALLOWED_MAIL_HOSTS"] = "127.0.0.1"
    return env


def mailroom(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    """Run the ``mailroom`` console script; return its stdout, fail loudly on an error."""
    result = subprocess.run(
        [sys.executable, "-m", "mailroom.cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        fail(f"mailroom {' '.join(args)} exited {result.returncode}:\n{result.stderr[-4000:]}")
    return result.stdout


def configure_mailroom(
    env: dict[str, str],
    tmp: Path,
    port: int,
    password: str,
    *,
    username: str = USERNAME,
    folders: tuple[str, ...] = ("INBOX",),
) -> None:
    """Migrate, add the mailbox, then import one template and one active rule on it."""
    mailroom(env, "migrate", "--no-input")
    folder_args = [arg for folder in folders for arg in ("--folder", folder)]
    mailroom(
        env,
        "mailbox", "add",
        "--label", "Bench",
        "--email", MAILBOX_EMAIL,
        "--imap-host", "127.0.0.1",
        "--imap-port", str(port),
        "--imap-encryption", "none",
        "--smtp-host", "127.0.0.1",
        "--smtp-port", "25",
        "--smtp-encryption", "none",
        "--username", username,
        "--password-stdin",
        *folder_args,
        "--processor", "none",
        "--history", "all",
        stdin=password + "\n",
    )  # fmt: skip
    # An import replaces every field of a mailbox it names (omitted ones get defaults, omitted
    # folders are unselected), so start from the exported document and add to it.
    doc: dict[str, Any] = json.loads(mailroom(env, "config", "export"))
    doc["templates"].append(
        {
            "name": "bench-ack",
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
    (box,) = (m for m in doc["mailboxes"] if m["label"] == "Bench")
    box["rules"] = [
        {
            "name": "Refunds",
            "active": True,
            "template": "bench-ack",
            "conditions": [{"field": "subject", "operator": "contains", "value": "refund"}],
        }
    ]
    path = tmp / "config.json"
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    mailroom(env, "config", "import", str(path))
    check: dict[str, Any] = json.loads(mailroom(env, "config", "export"))
    (box,) = (m for m in check["mailboxes"] if m["label"] == "Bench")
    selected = [f["name"] for f in box["folders"] if f["selected"]]
    if len(box["rules"]) != 1 or sorted(selected) != sorted(folders) or box["imap"]["port"] != port:
        fail(f"the imported configuration is not what was asked for: {json.dumps(box)}")


def time_mailroom_sync(env: dict[str, str], tmp: Path, count: int) -> float:
    """Run and time ``mailroom sync --once``; check every message was stored and processed."""
    log_path = tmp / "mailroom-sync.log"
    with open(log_path, "wb") as stderr:
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "mailroom.cli", "sync", "--once"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            check=False,
        )
        seconds = time.perf_counter() - start
    if result.returncode != 0:
        tail = log_path.read_text(errors="replace")[-4000:]
        fail(f"mailroom sync --once exited {result.returncode}:\n{tail}")
    lines = result.stdout.decode().strip().splitlines()
    if not lines:
        fail("mailroom sync --once printed nothing")
    report = json.loads(lines[-1])
    log(f"mailroom sync --once: {json.dumps(report)}")
    if report.get("stored") != count or report.get("processed") != count:
        fail(f"mailroom sync --once stored/processed {report}, expected {count} of each")
    return seconds


def rule_summary(data_dir: Path) -> dict[str, int]:
    """How often the rule matched and how many replies were queued, from the SQLite store."""
    db = sqlite3.connect(f"file:{data_dir / 'mailroom.sqlite3'}?mode=ro", uri=True)
    try:
        evaluated, hits = db.execute(
            "SELECT COUNT(*), SUM(rule_hits != '[]') FROM mailroom_processingrecord"
            " WHERE rule_hits != '[]' OR rule_misses != '[]'"
        ).fetchone()
        (outbox,) = db.execute("SELECT COUNT(*) FROM mailroom_outboxmessage").fetchone()
    finally:
        db.close()
    return {"rule_evaluated": evaluated, "rule_hits": hits or 0, "replies_queued": outbox}


def write_mbsync_config(
    tmp: Path,
    port: int,
    password: str,
    *,
    username: str = USERNAME,
    name: str = "mbsync",
    patterns: str = "INBOX",
) -> tuple[Path, Path]:
    """An isync 1.4 configuration pulling ``patterns`` (INBOX) into a fresh Maildir; return
    (config, the local store's directory)."""
    version = subprocess.run(
        ["mbsync", "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    match = re.search(r"(\d+)\.(\d+)", version)
    if match is None:
        fail(f"cannot read the mbsync version from {version!r}")
    # isync 1.5 renamed SSLType to TLSType; 1.4 (Debian bookworm) only knows SSLType.
    tls_keyword = "TLSType" if (int(match[1]), int(match[2])) >= (1, 5) else "SSLType"
    local = tmp / name
    local.mkdir()
    inbox = local / "INBOX"
    conf = tmp / f"{name}rc"
    conf.write_text(
        f"""\
IMAPAccount bench
Host 127.0.0.1
Port {port}
User {username}
Pass {password}
{tls_keyword} None
AuthMechs LOGIN

IMAPStore remote
Account bench

MaildirStore local
Path {local}/
Inbox {inbox}

Channel bench
Far :remote:
Near :local:
Patterns {patterns}
Create Near
Sync Pull
SyncState *
"""
    )
    conf.chmod(0o600)
    log(f"{version}, {tls_keyword} None")
    return conf, (inbox if patterns == "INBOX" else local)


def time_mbsync(conf: Path, inbox: Path, count: int) -> float:
    """Run and time ``mbsync -a``; check the local Maildir (every folder under ``inbox``) holds
    every message."""
    start = time.perf_counter()
    result = subprocess.run(
        ["mbsync", "-c", str(conf), "-a"], capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        fail(f"mbsync exited {result.returncode}:\n{result.stderr[-4000:]}")
    got = sum(1 for sub in ("cur", "new") for folder in inbox.rglob(sub) for _ in folder.iterdir())
    if got != count:
        fail(f"mbsync left {got} messages in {inbox}, expected {count}")
    return seconds


# -- the scale-out shape ------------------------------------------------------------------------

SPLIT_USER = "split"

# Sends one sync_folder task per selected folder to the broker, as a watcher or the sweep does,
# and prints the wall-clock time just before the first was sent.
_ENQUEUE_SCRIPT = """
import json, time
from mailroom.models import Folder
from mailroom.tasks.celery_app import CeleryExecutor
ids = list(Folder.objects.filter(selected=True).order_by("name").values_list("pk", flat=True))
executor = CeleryExecutor()
started = time.time()
for folder_id in ids:
    executor.submit("sync_folder", folder_id, True)
print(json.dumps({"enqueued_at": started, "sent_at": time.time(), "folders": ids}))
"""

_PROGRESS_SQL = """
SELECT count(*),
       count(*) FILTER (WHERE state = 'done'),
       count(*) FILTER (WHERE state = 'failed')
FROM mailroom_processingrecord
"""

_RULES_SQL = """
SELECT count(*) FILTER (WHERE rule_hits <> '[]'::jsonb OR rule_misses <> '[]'::jsonb),
       count(*) FILTER (WHERE rule_hits <> '[]'::jsonb),
       (SELECT count(*) FROM mailroom_outboxmessage)
FROM mailroom_processingrecord
"""


@dataclass(frozen=True)
class Layout:
    """Where the corpus lies in Dovecot: one user, its folders, message i in folder i mod n."""

    name: str
    username: str
    folders: tuple[str, ...]

    def folder_of(self, index: int) -> str:
        return self.folders[index % len(self.folders)]


def layouts_for(names: list[str], folders: int) -> list[Layout]:
    """The single layout (the corpus in one INBOX) and the split one (over ``folders``)."""
    known = {
        "single": Layout("single", USERNAME, ("INBOX",)),
        "split": Layout("split", SPLIT_USER, tuple(f"Part{n}" for n in range(1, folders + 1))),
    }
    return [known[name] for name in names]


def fill_layouts(server: DovecotServer, files: list[Path], layouts: list[Layout]) -> None:
    """Deliver each corpus file once per layout (mtime = its Date header, as ``fill_inbox``)."""
    for index, path in enumerate(files):
        raw = path.read_bytes()
        date = header_date(raw)
        for layout in layouts:
            server.deliver_maildir(
                layout.username, layout.folder_of(index), raw, internal_date=date
            )
        path.unlink()


def time_scaleout_import(
    args: argparse.Namespace,
    tmp: Path,
    server: DovecotServer,
    password: str,
    layout: Layout,
    workers: int,
) -> dict[str, Any]:
    """One timed import on a fresh database and broker with ``workers`` worker processes.

    Timed: from just before the first sync_folder task is sent to the broker until every
    message is stored and processed (each ProcessingRecord "done"), polled every 0.1 s. The
    workers are started (and ready) before: they are long-lived processes in this shape.
    """
    run_dir = tmp / f"run-{layout.name}-{workers}w"
    run_dir.mkdir()
    database = scaleout.BenchDatabase(args.pg_server, args.database, args.pg_options)
    broker = scaleout.PrivateRedis(run_dir / "redis")
    children: list[ChildProcess] = []
    try:
        database.recreate()
        broker.start()
        env = scaleout.scaleout_env(
            mailroom_env(run_dir / "data"), database.mailroom_url, broker.url
        )
        (run_dir / "data").mkdir(exist_ok=True)
        configure_mailroom(
            env, run_dir, server.port, password, username=layout.username, folders=layout.folders
        )
        if args.pg_setup_sql:
            database.query(args.pg_setup_sql, fetch=False)
            log(f"ran on the bench database: {args.pg_setup_sql}")
        children = scaleout.start_workers(
            env, run_dir, log, count=workers, concurrency=args.concurrency
        )
        backends = scaleout.BackendCpu(database)
        backends.sample()
        cpu_before = [child.cpu_seconds() for child in children]
        log(f"{layout.name}: {workers} worker(s) ready; enqueueing the sync")
        sent = json.loads(mailroom(env, "shell", "-c", _ENQUEUE_SCRIPT).strip().splitlines()[-1])
        enqueued_at = float(sent["enqueued_at"])
        stored_at = None
        deadline = time.time() + max(600.0, args.count / 20)
        last_log = last_sample = 0.0
        while True:
            total, done, failed = database.query(_PROGRESS_SQL)[0]
            now = time.time()
            if stored_at is None and total >= args.count:
                stored_at = now
            if failed:
                fail(f"{failed} messages failed processing")
            if done >= args.count:
                break
            if now > deadline:
                fail(f"after {now - enqueued_at:.0f} s: {total} stored, {done} processed")
            for child in children:
                if not child.alive():
                    fail(f"{child.role} exited:\n{child.tail()}")
            if now - last_sample >= 0.5:
                last_sample = now
                backends.sample()
            if now - last_log >= 5:
                last_log = now
                log(
                    f"{layout.name}, {workers} worker(s): {total} stored, {done} processed; "
                    f"queued {broker.queue_lengths()}"
                )
            time.sleep(0.1)
        seconds = now - enqueued_at
        backends.sample()
        evaluated, hits, outbox = database.query(_RULES_SQL)[0]
        if evaluated != args.count:
            fail(f"the rule was evaluated for {evaluated} of {args.count} messages")
        processes = scaleout.usage(children)
        for entry, before in zip(processes, cpu_before, strict=True):
            entry["cpu_seconds_timed"] = round(entry["cpu_seconds"] - before, 2)
        assert stored_at is not None
        result = {
            "layout": layout.name,
            "folders": len(layout.folders),
            "workers": workers,
            "concurrency": args.concurrency,
            "seconds": round(seconds, 3),
            "msgs_per_s": round(args.count / seconds, 1),
            "stored_seconds": round(stored_at - enqueued_at, 3),
            "enqueue_ms": round((float(sent["sent_at"]) - enqueued_at) * 1000, 1),
            "rule_evaluated": evaluated,
            "rule_hits": hits,
            "replies_queued": outbox,
            "processes": processes,
            "postgres_backends": backends.backends(),
            "postgres_cpu_seconds": round(backends.seconds(), 2),
            "log_errors": scaleout.log_errors(children),
        }
        log(f"{layout.name}, {workers} worker(s): {json.dumps(result)}")
        return result
    finally:
        for child in children:
            child.stop()
        broker.stop()
        database.drop()


def main_scaleout(args: argparse.Namespace, workers: list[int], names: list[str]) -> None:
    """The scale-out import: for each layout, each worker count, then mbsync; JSON out."""
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="mailroom-bench-import-"))
    server = DovecotServer(keep_files=args.keep)
    layouts = layouts_for(names, args.folders)
    runs: list[dict[str, Any]] = []
    mbsync: dict[str, dict[str, float]] = {}
    embedded: dict[str, Any] | None = None
    try:
        log(f"generating {args.count} messages (seed {args.seed}) in {tmp}")
        files, corpus_bytes = generate_corpus(tmp / "corpus", args.count, args.seed)
        server.start()
        password = secrets.token_hex(16)
        for layout in layouts:
            server.add_user(layout.username, password)
        log(f"Dovecot on {server.host}:{server.port} (root {server.root}); delivering the corpus")
        fill_layouts(server, files, layouts)
        for layout in layouts:
            warm_index(
                server, password, args.count, username=layout.username, folders=layout.folders
            )
        log("Dovecot has indexed the folders")
        for layout in layouts:
            if args.embedded_too and layout.name == "single":
                env = mailroom_env(tmp / "embedded")
                configure_mailroom(env, tmp, server.port, password)
                seconds = time_mailroom_sync(env, tmp, args.count)
                embedded = {
                    "seconds": round(seconds, 3),
                    "msgs_per_s": round(args.count / seconds, 1),
                    **rule_summary(tmp / "embedded"),
                }
                log(f"embedded sync --once: {json.dumps(embedded)}")
            for count in workers:
                runs.append(time_scaleout_import(args, tmp, server, password, layout, count))
            conf, local = write_mbsync_config(
                tmp,
                server.port,
                password,
                username=layout.username,
                name=f"mbsync-{layout.name}",
                patterns="INBOX" if layout.folders == ("INBOX",) else "*",
            )
            log(f"timing mbsync -a ({layout.name})")
            mbsync_seconds = time_mbsync(conf, local, args.count)
            mbsync[layout.name] = {
                "seconds": round(mbsync_seconds, 3),
                "msgs_per_s": round(args.count / mbsync_seconds, 1),
            }
            log(f"mbsync ({layout.name}): {mbsync_seconds:.2f} s")
    finally:
        server.stop()
        if args.keep:
            log(f"kept {tmp} and {server.root}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    for run in runs:
        run["ratio"] = round(run["msgs_per_s"] / mbsync[run["layout"]]["msgs_per_s"], 4)
    result: dict[str, Any] = {
        "shape": "scaleout",
        "messages": args.count,
        "seed": args.seed,
        "corpus_mb": round(corpus_bytes / 1e6, 1),
        "timed": "from the first sync_folder task sent to every message stored and processed",
        "runs": runs,
        "mbsync": mbsync,
    }
    if embedded is not None:
        embedded["ratio"] = round(embedded["msgs_per_s"] / mbsync["single"]["msgs_per_s"], 4)
        result["embedded_single"] = embedded
    result["total_seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result))


def main() -> None:
    """Set up, time both tools, print the JSON result, tear down."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20000, help="messages (default 20000)")
    parser.add_argument("--seed", type=int, default=42, help="corpus seed (default 42)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories")
    scaleout.add_arguments(parser)
    parser.add_argument(
        "--workers",
        default="1,2",
        help="scaleout: the numbers of `mailroom worker` processes to time, in turn (default 1,2)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="scaleout: --concurrency of each worker (pool processes; default 1)",
    )
    parser.add_argument(
        "--layouts",
        default="single,split",
        help="scaleout: single (the corpus in one folder), split (the same corpus spread over "
        "--folders folders of one mailbox), or both (default)",
    )
    parser.add_argument(
        "--folders", type=int, default=4, help="scaleout: folders of the split layout (default 4)"
    )
    parser.add_argument(
        "--embedded-too",
        action="store_true",
        help="scaleout: also time the embedded `mailroom sync --once` (SQLite) on the single "
        "layout, in the same run",
    )
    parser.add_argument(
        "--pg-setup-sql",
        default="",
        help="scaleout, for experiments: SQL run on each bench database after its migrations "
        "(say, to try a storage setting before proposing it as a migration)",
    )
    args = parser.parse_args()
    if args.count < 1:
        parser.error("--count must be at least 1")
    if shutil.which("mbsync") is None:
        fail("mbsync is not installed (Debian package isync)")
    if args.shape == "scaleout":
        try:
            workers = [int(n) for n in args.workers.split(",") if n.strip()]
        except ValueError:
            parser.error("--workers must list whole numbers, such as 1,2")
        layouts = [name.strip() for name in args.layouts.split(",") if name.strip()]
        if not workers or min(workers) < 1 or args.concurrency < 1 or args.folders < 1:
            parser.error("--workers, --concurrency and --folders must be at least 1")
        if not layouts or set(layouts) - {"single", "split"}:
            parser.error("--layouts takes single, split or single,split")
        main_scaleout(args, workers, layouts)
        return

    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="mailroom-bench-import-"))
    server = DovecotServer(keep_files=args.keep)
    try:
        log(f"generating {args.count} messages (seed {args.seed}) in {tmp}")
        files, corpus_bytes = generate_corpus(tmp / "corpus", args.count, args.seed)

        server.start()
        password = secrets.token_hex(16)
        server.add_user(USERNAME, password)
        log(f"Dovecot on {server.host}:{server.port} (root {server.root}); delivering the corpus")
        fill_inbox(server, files)
        warm_index(server, password, args.count)
        log("Dovecot has indexed INBOX")

        env = mailroom_env(tmp / "data")
        configure_mailroom(env, tmp, server.port, password)
        log("mailroom configured; timing mailroom sync --once")
        seconds = time_mailroom_sync(env, tmp, args.count)
        rules = rule_summary(tmp / "data")
        log(f"mailroom: {seconds:.2f} s; {json.dumps(rules)}")
        if rules["rule_evaluated"] != args.count:
            fail(f"the rule was evaluated for {rules['rule_evaluated']} of {args.count} messages")

        conf, inbox = write_mbsync_config(tmp, server.port, password)
        log("timing mbsync -a")
        mbsync_seconds = time_mbsync(conf, inbox, args.count)
        log(f"mbsync: {mbsync_seconds:.2f} s")
    finally:
        server.stop()
        if args.keep:
            log(f"kept {tmp} and {server.root}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    msgs_per_s = args.count / seconds
    mbsync_msgs_per_s = args.count / mbsync_seconds
    result = {
        "messages": args.count,
        "seconds": round(seconds, 3),
        "msgs_per_s": round(msgs_per_s, 1),
        "mbsync_seconds": round(mbsync_seconds, 3),
        "mbsync_msgs_per_s": round(mbsync_msgs_per_s, 1),
        "ratio": round(msgs_per_s / mbsync_msgs_per_s, 4),
        "corpus_mb": round(corpus_bytes / 1e6, 1),
        "seed": args.seed,
        **rules,
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
