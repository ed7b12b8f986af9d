"""Prometheus metrics: what mailroom did (counters, latencies) and what it has left (backlog).

Counters and histograms are counted where the work is done, in whichever process does it:
the one ``mailroom run`` process in the embedded shape; in the scale-out shape each ``mailroom
web``, ``watch`` and ``worker`` (its pool processes together, through prometheus_client's
multiprocess directory) serves its own, and Prometheus sums them. The backlog is read from the
database when scraped, so any one process reports it for the whole deployment.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"

SYNCED = Counter("mailroom_messages_synced", "Messages fetched from IMAP and stored.")
PROCESSED = Counter(
    "mailroom_messages_processed", "Messages the pipeline finished, by state.", ["state"]
)
ANSWERED = Counter("mailroom_replies_sent", "Autoresponses accepted by the SMTP server.")
SUPPRESSED = Counter(
    "mailroom_replies_suppressed",
    "Replies a matching rule would have sent, held back by the loop checks.",
)
FAILURES = Counter(
    "mailroom_failures", "Failures, by where (sync, send) and kind.", ["where", "kind"]
)
SYNC_SECONDS = Histogram(
    "mailroom_sync_seconds",
    "Duration of one sync of a mailbox's folders.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800),
)
PUSH_SECONDS = Histogram(
    "mailroom_push_seconds",
    "From the IMAP server's new-mail notice to the message stored.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)


class BacklogCollector(Collector):
    """Work waiting, read from the database at scrape time."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from django.db.models import Sum
        from django.utils import timezone

        from mailroom.models import (
            Folder,
            Mailbox,
            MailboxStatus,
            OutboxMessage,
            OutboxState,
            ProcessingRecord,
            ProcessingState,
        )

        yield GaugeMetricFamily(
            "mailroom_backlog_unprocessed",
            "Stored messages waiting for the pipeline.",
            value=ProcessingRecord.objects.filter(state=ProcessingState.PENDING).count(),
        )
        yield GaugeMetricFamily(
            "mailroom_backlog_unfetched",
            "Messages on the servers not yet fetched (as of each folder's last sync).",
            value=Folder.objects.filter(selected=True).aggregate(n=Sum("backlog"))["n"] or 0,
        )
        yield GaugeMetricFamily(
            "mailroom_backlog_outbox",
            "Replies waiting to be sent (pending or being sent).",
            value=OutboxMessage.objects.filter(
                state__in=[OutboxState.PENDING, OutboxState.SENDING]
            ).count(),
        )
        failing = GaugeMetricFamily("mailroom_mailboxes", "Mailboxes by status.", labels=["status"])
        counts = {status: 0 for status in MailboxStatus.values}
        for row in Mailbox.objects.values_list("status", flat=True):
            counts[row] = counts.get(row, 0) + 1
        for status, count in sorted(counts.items()):
            failing.add_metric([status], count)
        yield failing
        watched = Mailbox.objects.filter(watch_until__gte=timezone.now()).count()
        yield GaugeMetricFamily(
            "mailroom_mailboxes_watched", "Mailboxes a live watcher holds.", value=watched
        )


_backlog = BacklogCollector()


def exposition() -> tuple[bytes, str]:
    """This process's metrics and the backlog, in Prometheus's text format (for ``/metrics``)."""
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROCESS_DIR):
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = REGISTRY
    body = generate_latest(registry) + generate_latest(_backlog_registry())
    return body, CONTENT_TYPE_LATEST


def _backlog_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_backlog)
    return registry


def serve(port: int, *, address: str = "127.0.0.1") -> None:
    """Serve this process's metrics (all pool processes' in multiprocess mode) on ``port``."""
    if os.environ.get(MULTIPROCESS_DIR):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        start_http_server(port, addr=address, registry=registry)
    else:
        start_http_server(port, addr=address)
