"""What the scale-out tests share: the processes of a deployment, mail, and exact counts."""

from __future__ import annotations

import re
from collections import Counter
from email import message_from_bytes

from mailroom.models import (
    Case,
    Mailbox,
    Message,
    OutboxMessage,
    OutboxState,
    ProcessingRecord,
    ProcessingState,
)
from tests.scaleout.processes import Cluster, Proc
from tests.servers.smtp import SmtpSink


def question(n: int, *, to: str = "support@example.test", subject: str = "Question") -> bytes:
    """A mail from a person that the answering rule replies to; each ``n`` its own sender."""
    return (
        b"Return-Path: <customer%d@customer.test>\r\n"
        b"From: Customer %d <customer%d@customer.test>\r\n"
        b"To: <%s>\r\n"
        b"Subject: %s %d\r\n"
        b"Message-ID: <scaleout-%d@customer.test>\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"\r\n"
        b"Hello, this is question %d.\r\n"
    ) % (n, n, n, to.encode(), subject.encode(), n, n, n)


def start_deployment(
    cluster: Cluster, *, watchers: int = 1, metrics: dict[str, int] | None = None, **env: str
) -> list[Proc]:
    """A worker, ``watchers`` watch processes and a beat, each a process of its own.

    ``metrics``: process name ("worker", "watch0", …) → the port it serves its metrics on.
    """
    ports = metrics or {}

    def port_of(name: str) -> list[str]:
        return [f"--metrics-port={ports[name]}"] if name in ports else []

    procs = [cluster.worker("worker", "--concurrency=2", *port_of("worker"), **env)]
    for n in range(watchers):
        name = f"watch{n}"
        procs.append(cluster.start(name, "watch", *port_of(name), ready="watching up to", **env))
    procs.append(cluster.start("beat", "beat", "--every=1", ready="sending the sweep", **env))
    return procs


def task_runs(proc: Proc, task: str, event: str = "received") -> int:
    """How many runs of ``mailroom.TASK`` the worker logged as ``event`` (received,
    succeeded, …)."""
    return len(re.findall(rf"Task mailroom\.{task}\[[0-9a-f-]+\] {event}", proc.output))


def wait_for_sweeps(cluster: Cluster, worker: Proc, count: int = 2) -> None:
    """Wait until the worker finished ``count`` more sweeps: lost work would have been found
    and sent to the workers by then."""
    start = task_runs(worker, "sweep", "succeeded")
    cluster.until(
        lambda: task_runs(worker, "sweep", "succeeded") >= start + count,
        30,
        f"{count} more sweeps",
    )


def assert_each_once(mailbox: Mailbox | None, smtp: SmtpSink, count: int) -> None:
    """``count`` messages, each stored once, processed once (one Case), answered once."""
    messages = Message.objects.all() if mailbox is None else mailbox.messages.all()
    ids = list(messages.values_list("pk", flat=True))
    assert len(ids) == count
    assert len(set(messages.values_list("sha256", flat=True))) == count
    records = ProcessingRecord.objects.filter(message_id__in=ids)
    assert Counter(records.values_list("state", flat=True)) == {ProcessingState.DONE: count}
    cases = Case.objects.filter(message_id__in=ids)
    assert cases.count() == count
    assert len(set(cases.values_list("message_id", flat=True))) == count
    outbox = OutboxMessage.objects.filter(in_reply_to_id__in=ids)
    assert Counter(outbox.values_list("state", flat=True)) == {OutboxState.SENT: count}
    delivered = Counter(str(message_from_bytes(mail.data)["Message-ID"]) for mail in smtp.accepted)
    for message_id in outbox.values_list("message_id", flat=True):
        assert delivered[message_id] == 1, message_id
