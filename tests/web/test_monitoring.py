"""``/healthz`` and ``/metrics``: what a monitor and Prometheus see, with no login."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.test import Client

from mailroom import conf
from mailroom.models import Mailbox
from tests.faults.helpers import answering_rule, customer_mail, sync_once
from tests.servers.fixtures import ImapAccount
from tests.servers.smtp import SmtpSink

pytestmark = pytest.mark.django_db


def _metric(text: str, name: str, labels: str = "") -> float:
    """The value of one sample in Prometheus's text format (0 when absent)."""
    pattern = re.escape(name + (("{" + labels + "}") if labels else "")) + r" ([0-9.e+-]+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def _scrape(client: Client) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


def test_healthz_reports_the_database_and_an_in_process_broker(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["broker"] == "in-process"
    assert body["mailboxes_failing"] == 0


def test_healthz_answers_503_naming_an_unreachable_broker(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Port 9 (discard) is closed on loopback here: a real refused connection.
    monkeypatch.setattr(conf, "CELERY_BROKER_URL", "redis://127.0.0.1:9/0")
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["broker"].startswith("unreachable: ")
    assert body["database"] == "ok"


def test_metrics_count_what_a_sync_stored_processed_answered_and_held_back(
    client: Client,
    make_mailbox: Callable[..., Mailbox],
    imap_account: ImapAccount,
    smtp_server: SmtpSink,
) -> None:
    mailbox = make_mailbox(processor="case")
    answering_rule(mailbox)
    before = _scrape(client)
    imap_account.append("INBOX", customer_mail(1))
    imap_account.append("INBOX", customer_mail(2))
    # An auto-reply: the rule matches, the loop checks hold the answer back.
    imap_account.append("INBOX", b"Auto-Submitted: auto-replied\r\n" + customer_mail(3))

    sync_once()

    after = _scrape(client)

    def grew(name: str, labels: str = "") -> float:
        return _metric(after, name, labels) - _metric(before, name, labels)

    assert grew("mailroom_messages_synced_total") == 3
    assert grew("mailroom_messages_processed_total", 'state="done"') == 3
    assert grew("mailroom_replies_sent_total") == 2
    assert grew("mailroom_replies_suppressed_total") == 1
    assert grew("mailroom_sync_seconds_count") >= 1
    assert len(smtp_server.accepted) == 2
    assert _metric(after, "mailroom_backlog_unprocessed") == 0
    assert _metric(after, "mailroom_backlog_outbox") == 0
    assert _metric(after, "mailroom_mailboxes", 'status="ok"') == 1


def test_metrics_require_the_token_when_one_is_set(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conf, "METRICS_TOKEN", "scrape-me")
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    right = client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert right.status_code == 200
    assert b"mailroom_backlog_unprocessed" in right.content
