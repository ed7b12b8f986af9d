"""A worker killed at any moment (threats.md §4.1 F01, F23): ``mailroom sync --once`` is
SIGKILLed at random points while it imports, processes and answers mail from Dovecot through
aiosmtpd; the runs after it finish the work with nothing lost and nothing done twice.

The kill points are drawn from a seeded random generator, so a failure can be replayed: each
round waits until a random number of the round's messages is stored, then a random few
milliseconds more, and kills. Leases of a killed process run out by themselves
(``MAILROOM_LEASE_SECONDS``, the outbox's five minutes); the test lets that time pass by moving
their expiry into the past instead of sleeping.
"""

from __future__ import annotations

import hashlib
import os
import random
import time
from collections import Counter
from email import message_from_bytes
from pathlib import Path

from tests.faults.helpers import customer_mail
from tests.faults.processes import Installation
from tests.servers.fixtures import ImapAccount
from tests.servers.smtp import SmtpSink

# Another seed explores other kill points: MAILROOM_FAULT_SEED=7 pytest tests/faults/test_crash.py
SEED = int(os.environ.get("MAILROOM_FAULT_SEED", "20261202"))
ROUNDS = 6
PER_ROUND = 10
LONG_AGO = "2000-01-01 00:00:00"


def test_sync_killed_at_random_points_loses_nothing_and_does_nothing_twice(
    tmp_path: Path, migrated: Path, imap_account: ImapAccount, smtp_server: SmtpSink
) -> None:
    rng = random.Random(SEED)
    site = Installation(tmp_path, MAILROOM_FETCH_BATCH="3")
    site.set_up(imap_account, smtp_server, migrated=migrated)
    mails: list[bytes] = []
    landed = 0

    for _ in range(ROUNDS):
        for _ in range(PER_ROUND):
            mails.append(customer_mail(len(mails)))
            imap_account.deliver(mails[-1])
        stored_before = site.scalar("SELECT count(*) FROM mailroom_message")
        target = stored_before + rng.randint(1, PER_ROUND)
        delay = rng.uniform(0, 0.05)

        worker = site.start("sync", "--once")
        deadline = time.monotonic() + 60
        while (
            worker.poll() is None
            and site.scalar("SELECT count(*) FROM mailroom_message") < target
            and time.monotonic() < deadline
        ):
            time.sleep(0.005)
        time.sleep(delay)
        if worker.poll() is None:
            landed += 1
        worker.kill()
        worker.communicate(timeout=30)
        # The killed worker's folder lease runs out.
        site.write("UPDATE mailroom_folder SET lease_until = ? WHERE lease_owner != ''", LONG_AGO)

    # Most kills hit a live worker (one that finished before its kill is no test of a kill).
    assert landed >= ROUNDS // 2, f"only {landed} kills landed (seed {SEED})"

    site.run("sync", "--once")
    # Replies a kill left "sending" wait for their lease (five minutes) to run out; then the
    # sweep of the next pass retries those that had not started DATA and abandons the others.
    site.write(
        "UPDATE mailroom_outboxmessage SET lease_until = ? WHERE state = 'sending'", LONG_AGO
    )
    site.run("sync", "--once")

    total = len(mails)
    # Every message stored once, at its own UID, with its exact bytes; the cursor at the end.
    rows = site.query("SELECT uid, sha256, id FROM mailroom_message ORDER BY uid")
    assert [uid for uid, _, _ in rows] == list(range(1, total + 1))
    assert sorted(sha for _, sha, _ in rows) == sorted(
        hashlib.sha256(raw).hexdigest() for raw in mails
    )
    assert site.scalar("SELECT count(*) FROM mailroom_rawmessage") == total
    assert site.scalar("SELECT last_uid FROM mailroom_folder") == total
    # Processed once each: one record done, one Case.
    assert site.query("SELECT state, count(*) FROM mailroom_processingrecord GROUP BY state") == [
        ("done", total)
    ]
    assert site.query("SELECT count(*), count(DISTINCT message_id) FROM mailroom_case") == [
        (total, total)
    ]
    # Answered at most once each: one outbox row per message, sent or (killed after DATA
    # started) abandoned; every sent row delivered exactly once, an abandoned one at most once.
    outbox = site.query("SELECT in_reply_to_id, message_id, state FROM mailroom_outboxmessage")
    assert sorted(message for message, _, _ in outbox) == sorted(id_ for _, _, id_ in rows)
    assert {state for _, _, state in outbox} <= {"sent", "abandoned"}
    delivered = Counter(
        str(message_from_bytes(mail.data)["Message-ID"]) for mail in smtp_server.messages
    )
    for _, message_id, state in outbox:
        if state == "sent":
            assert delivered[message_id] == 1
        else:
            assert delivered[message_id] <= 1
    assert sum(delivered.values()) == len(smtp_server.messages)  # nothing else was sent
    abandoned = [message_id for _, message_id, state in outbox if state == "abandoned"]
    alerts = site.scalar("SELECT count(*) FROM mailroom_alert WHERE key LIKE 'abandoned:%'")
    assert alerts == len(abandoned)
    # Each row holds the bytes the server has at its UID.
    client = imap_account.client()
    try:
        client.select_folder("INBOX", readonly=True)
        on_server = client.fetch("1:*", ["BODY.PEEK[]"])
    finally:
        client.logout()
    assert {uid: sha for uid, sha, _ in rows} == {
        uid: hashlib.sha256(item[b"BODY[]"]).hexdigest() for uid, item in on_server.items()
    }
