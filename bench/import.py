"""Benchmark a first import: ``mailroom sync --once`` against ``mbsync`` on the same Dovecot folder.

usage: python bench/import.py [--count 20000] [--seed 42] [--keep]

Fills the INBOX of a throwaway Dovecot (``tests.servers.dovecot.DovecotServer``) with the
reproducible corpus of ``../shared/bench/gen_corpus.py``, each file's mtime (Dovecot's
INTERNALDATE) set to its Date header. Dovecot indexes the folder once, untimed. Then, in a fresh
data directory (SQLite), the real console script configures one mailbox (processor ``none``) with
one active autoresponse rule (subject contains "refund") and ``mailroom sync --once`` imports the
folder: only that command is timed. Then ``mbsync -a`` pulls the same folder into a fresh local
Maildir, timed the same way (wall clock around the subprocess). Both counts are checked.

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


def warm_index(server: DovecotServer, password: str, count: int) -> None:
    """SELECT the folder and UID SEARCH ALL once, so Dovecot has built its index before timing."""
    client = server.client(USERNAME, password, timeout=600)
    try:
        client.select_folder("INBOX")
        uids = client.search(["ALL"])
    finally:
        client.logout()
    if len(uids) != count:
        fail(f"Dovecot's INBOX holds {len(uids)} messages, expected {count}")


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


def configure_mailroom(env: dict[str, str], tmp: Path, port: int, password: str) -> None:
    """Migrate, add the mailbox, then import one template and one active rule on it."""
    mailroom(env, "migrate", "--no-input")
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
        "--username", USERNAME,
        "--password-stdin",
        "--folder", "INBOX",
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
    if len(box["rules"]) != 1 or selected != ["INBOX"] or box["imap"]["port"] != port:
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


def write_mbsync_config(tmp: Path, port: int, password: str) -> tuple[Path, Path]:
    """An isync 1.4 configuration pulling INBOX into a fresh Maildir; return (config, inbox)."""
    version = subprocess.run(
        ["mbsync", "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    match = re.search(r"(\d+)\.(\d+)", version)
    if match is None:
        fail(f"cannot read the mbsync version from {version!r}")
    # isync 1.5 renamed SSLType to TLSType; 1.4 (Debian bookworm) only knows SSLType.
    tls_keyword = "TLSType" if (int(match[1]), int(match[2])) >= (1, 5) else "SSLType"
    local = tmp / "mbsync"
    local.mkdir()
    inbox = local / "INBOX"
    conf = tmp / "mbsyncrc"
    conf.write_text(
        f"""\
IMAPAccount bench
Host 127.0.0.1
Port {port}
User {USERNAME}
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
Patterns INBOX
Create Near
Sync Pull
SyncState *
"""
    )
    conf.chmod(0o600)
    log(f"{version}, {tls_keyword} None")
    return conf, inbox


def time_mbsync(conf: Path, inbox: Path, count: int) -> float:
    """Run and time ``mbsync -a``; check the local Maildir holds every message."""
    start = time.perf_counter()
    result = subprocess.run(
        ["mbsync", "-c", str(conf), "-a"], capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        fail(f"mbsync exited {result.returncode}:\n{result.stderr[-4000:]}")
    got = sum(1 for sub in ("cur", "new") for _ in (inbox / sub).iterdir())
    if got != count:
        fail(f"mbsync left {got} messages in {inbox}, expected {count}")
    return seconds


def main() -> None:
    """Set up, time both tools, print the JSON result, tear down."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20000, help="messages (default 20000)")
    parser.add_argument("--seed", type=int, default=42, help="corpus seed (default 42)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories")
    args = parser.parse_args()
    if args.count < 1:
        parser.error("--count must be at least 1")
    if shutil.which("mbsync") is None:
        fail("mbsync is not installed (Debian package isync)")

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
