"""The Health page: every mailbox's status, backlog, last error, import, alerts and watcher."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from mailroom.alerts import raise_alert
from mailroom.mailboxes.actions import MailboxInput, save_mailbox, set_access, set_folders
from mailroom.models import (
    Folder,
    Mailbox,
    MailboxConnection,
    MailboxStatus,
    OutboxMessage,
    OutboxState,
    ProcessingRecord,
    ProcessingState,
    WatchProcess,
)
from tests.faults.helpers import customer_mail
from tests.storing import store_one

pytestmark = pytest.mark.django_db


def _mailbox(label: str, status: str = MailboxStatus.OK, detail: str = "") -> Mailbox:
    box = save_mailbox(
        MailboxInput(label=label, email=f"{label.lower()}@example.test", imap_host="imap.test"),
        password="pw",
    )
    set_folders(box, known=["INBOX"], selected=["INBOX"])
    Mailbox.objects.filter(pk=box.pk).update(
        status=status, status_detail=detail, last_synced_at=timezone.now() - timedelta(minutes=3)
    )
    box.refresh_from_db()
    return box


def _busy(box: Mailbox, n: int) -> None:
    """Give ``box`` everything the page counts: stored mail waiting and failed, replies waiting
    and refused, an import under way, an open alert and a live watcher."""
    inbox = box.folders.get(name="INBOX")
    stored = [store_one(inbox, uid, customer_mail(n * 100 + uid)) for uid in (1, 2, 3)]
    failed = stored[0]
    assert failed is not None
    ProcessingRecord.objects.filter(message=failed).update(
        state=ProcessingState.FAILED, error=f"LeadError: no sales channel for {box.label}"
    )
    for i, state in enumerate((OutboxState.PENDING, OutboxState.SENDING, OutboxState.FAILED)):
        OutboxMessage.objects.create(
            mailbox=box,
            message_id=f"<{box.pk}-{i}@mailroom.test>",
            to_email="customer@customer.test",
            raw=b"",
            state=state,
            last_error="550 mailbox unavailable" if state == OutboxState.FAILED else "",
        )
    Folder.objects.filter(pk=inbox.pk).update(imported=3, backlog=1_200)
    raise_alert(box.pk, "uidvalidity:INBOX", "INBOX was renumbered")
    owner = f"w{box.pk:07d}-0123456789"
    WatchProcess.objects.create(
        owner=owner, host=f"watch-{box.pk}", capacity=100, until=timezone.now() + timedelta(30)
    )
    Mailbox.objects.filter(pk=box.pk).update(
        watch_owner=owner, watch_until=timezone.now() + timedelta(seconds=25)
    )


@pytest.fixture
def admin() -> Client:
    client = Client()
    client.force_login(User.objects.create_user("alice", password="x", is_staff=True))
    return client


def _row(page: str, box: Mailbox) -> str:
    return page.split(f'data-mailbox="{box.pk}"', 1)[1].split("</tr>", 1)[0]


def test_it_lists_every_mailbox_with_the_problems_first(admin: Client) -> None:
    calm = _mailbox("Alpha")
    refused = _mailbox("Beta", MailboxStatus.AUTH_ERROR, "The server refused the login.")
    off = _mailbox("Delta")
    MailboxConnection.objects.filter(mailbox=off).update(imap_enabled=False)
    unreachable = _mailbox("Gamma", MailboxStatus.DEGRADED, "Connection refused by imap.test")
    broken = _mailbox("Zeta", MailboxStatus.ERROR, "SELECT INBOX: BAD command")

    page = admin.get("/health/").content.decode()

    # Failed connections (by name), then retrying, then working, then switched off.
    expected = [refused, broken, unreachable, calm, off]
    order = [page.index(f'data-mailbox="{b.pk}"') for b in expected]
    assert order == sorted(order)
    row = _row(page, refused)
    assert "Authentication failed" in row
    assert "<strong>Connection:</strong> The server refused the login." in row
    assert "Server unreachable, retrying" in _row(page, unreachable)
    assert "IMAP disabled" in _row(page, off)
    working = _row(page, calm)
    assert "Working" in working and "3\xa0minutes ago" in working
    assert "no watcher" in working
    assert '<strong id="total-failing">3</strong> of 5 mailboxes failing' in page


def test_it_shows_each_mailboxs_backlog_errors_import_alerts_and_watcher(admin: Client) -> None:
    box = _mailbox("Support")
    _busy(box, 1)
    _mailbox("Quiet")

    page = admin.get("/health/").content.decode()

    row = _row(page, box)
    assert "2 to process" in row and "1 failed" in row
    assert "2 replies to send" in row
    assert "<strong>Processing:</strong> LeadError: no sales channel for Support" in row
    assert "<strong>Sending:</strong> 550 mailbox unavailable" in row
    assert 'max="1203" value="3"' in row and "3 imported, 1,200 to go" in row
    assert "1 open" in row
    assert f"watch-{box.pk} w{box.pk:07d}, lease expires in " in row
    assert f'<tr data-mailbox="{box.pk}" class="problem-row">' in page
    assert page.index(f'data-mailbox="{box.pk}"') < page.index("Quiet")
    assert '<strong id="total-unprocessed">2</strong>' in page
    assert '<strong id="total-processing-failed">1</strong>' in page
    assert '<strong id="total-unfetched">1,200</strong>' in page
    assert '<strong id="total-outbox-pending">2</strong>' in page
    assert '<strong id="total-outbox-failed">1</strong>' in page
    assert '<strong id="total-alerts">1</strong>' in page
    assert 'href="/static/mailroom/health.css"' in page


def test_an_expired_watch_lease_says_so(admin: Client) -> None:
    box = _mailbox("Support")
    Mailbox.objects.filter(pk=box.pk).update(
        watch_owner="0123456789abcdef", watch_until=timezone.now() - timedelta(minutes=10)
    )

    row = _row(admin.get("/health/").content.decode(), box)

    assert "watcher 01234567, lease expired 10\xa0minutes ago" in row


def test_the_number_of_queries_does_not_grow_with_the_mailboxes(admin: Client) -> None:
    for n in range(3):
        _busy(_mailbox(f"Box {n}"), n)
    admin.get("/health/")  # the session and user are loaded the same way each time
    with CaptureQueriesContext(connection) as few:
        assert admin.get("/health/").status_code == 200

    for n in range(3, 30):
        box = _mailbox(f"Box {n}", MailboxStatus.AUTH_ERROR if n % 3 else MailboxStatus.OK)
        _busy(box, n)
    with CaptureQueriesContext(connection) as many:
        page = admin.get("/health/").content.decode()

    assert page.count("data-mailbox=") == 30
    assert len(many) == len(few), [q["sql"] for q in many]
    assert len(many) <= 10, [q["sql"] for q in many]


def test_only_administrators_see_it(admin: Client) -> None:
    box = _mailbox("Support")
    member = User.objects.create_user("bob", password="x")
    set_access(box, user_ids=[member.pk], group_ids=[])
    client = Client()
    client.force_login(member)

    assert client.get("/health/").status_code == 404
    assert 'href="/health/"' not in client.get("/").content.decode()
    assert Client().get("/health/").status_code == 302
    assert 'href="/health/"' in admin.get("/").content.decode()
