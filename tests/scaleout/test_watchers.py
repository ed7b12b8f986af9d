"""Two ``mailroom watch`` processes share fifty mailboxes by lease; one is SIGKILLed and the
other takes its mailboxes over within the lease time, with no mail missed or handled twice."""

from __future__ import annotations

import os
import secrets
import signal
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from django.utils import timezone

from mailroom.models import (
    AutoResponseRule,
    EmailTemplate,
    EmailTemplateTranslation,
    Folder,
    Mailbox,
    ProcessingRecord,
    ProcessingState,
    RuleCondition,
)
from tests.conftest import run_cli
from tests.scaleout.processes import Cluster
from tests.scaleout.scenario import assert_each_once, question, wait_for_sweeps
from tests.servers.dovecot import DovecotServer
from tests.servers.fixtures import ImapAccount
from tests.servers.smtp import SmtpSink

pytestmark = pytest.mark.django_db(transaction=True)

MAILBOXES = 50
LEASE_SECONDS = 5
# The survivor's watch loop claims free mailboxes every 2 s (LOOP_SECONDS); its watchers then
# log in and sync what came meanwhile.
TAKEOVER_MARGIN = 4.0


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as server:
        yield server


def _mailboxes(dovecot: DovecotServer, smtp: SmtpSink) -> dict[int, ImapAccount]:
    template = EmailTemplate.objects.create(name="ack", default_language="en")
    EmailTemplateTranslation.objects.create(
        template=template, language="en", subject="Re: {{ subject }}", body="We got it.\n"
    )
    accounts = {}
    for n in range(MAILBOXES):
        account = ImapAccount(
            dovecot.host,
            dovecot.port,
            f"box{n}-{secrets.token_hex(3)}@example.test",
            secrets.token_urlsafe(12),
            dovecot,
        )
        dovecot.add_user(account.username, account.password)
        mailbox_id = int(
            run_cli(
                "mailbox", "add", "--label", f"Box {n}", "--email", f"box{n}@example.test",
                "--imap-host", account.host, "--imap-port", str(account.port),
                "--imap-encryption", "none", "--smtp-host", smtp.host,
                "--smtp-port", str(smtp.port), "--smtp-encryption", "none",
                "--username", account.username, "--password-stdin", "--folder", "INBOX",
                "--processor", "case",
                stdin=account.password + "\n",
            ).strip()
        )  # fmt: skip
        rule = AutoResponseRule.objects.create(
            mailbox_id=mailbox_id, name="Acknowledge", template=template
        )
        RuleCondition.objects.create(
            rule=rule, field="subject", operator="contains", value="Question"
        )
        accounts[mailbox_id] = account
    return accounts


def _holders() -> dict[int, str]:
    """Mailbox id → the watch process token holding it now (live leases only)."""
    return dict(
        Mailbox.objects.filter(watch_until__gte=timezone.now()).values_list("pk", "watch_owner")
    )


def _all_synced() -> bool:
    return not Folder.objects.filter(last_synced_at__isnull=True).exists()


def test_a_killed_watch_process_s_mailboxes_are_taken_over_within_the_lease_time(
    cluster: Cluster, dovecot: DovecotServer, sink: SmtpSink
) -> None:
    accounts = _mailboxes(dovecot, sink)
    env = {"MAILROOM_POLL_SECONDS": "3600"}  # only pushes and takeovers bring mail in
    worker = cluster.worker("worker", "--concurrency=2", **env)
    cluster.start("beat", "beat", "--every=1", ready="sending the sweep", **env)
    # Default capacities: the first takes all 50, and gives half back when the second starts.
    first = cluster.start("watch-a", "watch", ready="watching", **env)
    cluster.until(lambda: len(_holders()) == MAILBOXES, 30, "the first watch process holding 50")
    a_owner = set(_holders().values())
    assert len(a_owner) == 1
    cluster.start("watch-b", "watch", ready="watching", **env)
    cluster.until(
        lambda: len(set(_holders().values())) == 2 and len(_holders()) == MAILBOXES,
        30,
        "all 50 mailboxes held, by both processes",
    )
    cluster.until(
        lambda: sorted(Counter(_holders().values()).values()) == [25, 25], 30, "an even split"
    )
    cluster.until(_all_synced, 60, "every watcher's first sync")
    holders = _holders()
    a_boxes = sorted(pk for pk, owner in holders.items() if owner in a_owner)
    b_boxes = sorted(pk for pk, owner in holders.items() if owner not in a_owner)
    assert len(a_boxes) == 25 and len(b_boxes) == 25
    assert len(set(holders.values())) == 2

    expected: Counter[int] = Counter()
    sent = 0

    def deliver(boxes: list[int]) -> None:
        nonlocal sent
        for pk in boxes:
            # Addressed to the mailbox (mail that names neither it nor an alias is not answered).
            address = Mailbox.objects.values_list("email", flat=True).get(pk=pk)
            accounts[pk].deliver(question(sent, to=address))
            expected[pk] += 1
            sent += 1

    def processed() -> int:
        return ProcessingRecord.objects.filter(state=ProcessingState.DONE).count()

    def explain() -> str:
        """Which mailboxes are short of mail, and every record not done, for a failure."""
        short = {
            pk: (Mailbox.objects.get(pk=pk).messages.count(), count)
            for pk, count in expected.items()
            if Mailbox.objects.get(pk=pk).messages.count() != count
        }
        pending = list(
            ProcessingRecord.objects.exclude(state=ProcessingState.DONE).values_list(
                "message__mailbox_id", "state", "attempts", "error"
            )
        )
        return f"mailboxes short (stored, sent): {short}\nrecords not done: {pending}"

    # Before the kill: one mail to every mailbox, pushed to whichever process holds it.
    deliver(sorted(accounts))
    cluster.until(
        lambda: processed() == sent, 60, "the mail before the kill processed", explain=explain
    )

    os.killpg(first.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    first.wait()
    # During: mail to the dead process's mailboxes before anyone holds them again.
    deliver(a_boxes)
    assert set(_holders()) >= set(b_boxes)

    cluster.until(
        lambda: len(_holders()) == MAILBOXES and len(set(_holders().values())) == 1,
        LEASE_SECONDS + TAKEOVER_MARGIN + 5,
        "every mailbox held by the survivor",
    )
    took = time.monotonic() - killed_at
    assert took <= LEASE_SECONDS + TAKEOVER_MARGIN, f"takeover took {took:.1f} s"
    assert set(_holders().values()).isdisjoint(a_owner)

    # After: mail to every mailbox again, now all watched by the survivor.
    cluster.until(_all_synced, 30, "the survivor's watchers synced")
    deliver(a_boxes + b_boxes[:5])
    cluster.until(lambda: processed() == sent, 60, f"all {sent} mails processed", explain=explain)
    cluster.until(lambda: len(sink.accepted) >= sent, 60, f"all {sent} replies delivered")
    wait_for_sweeps(cluster, worker)

    # Each mail stored once in its own mailbox, processed once (one Case), answered once.
    assert_each_once(None, sink, sent)
    for pk, count in expected.items():
        assert Mailbox.objects.get(pk=pk).messages.count() == count, pk
    assert len(sink.messages) == sent
