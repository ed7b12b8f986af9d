"""What Health and the mailbox page say about a mailbox that cannot work as set up: one with no
folder to sync (it never connects, so no error would ever show), and one whose replies the
SMTP server refuses (they wait to be sent again long before any counts as failed). Saving new
SMTP settings sends the waiting replies at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from mailroom.mailboxes.actions import MailboxInput, save_mailbox, set_access, set_folders
from mailroom.models import Mailbox, OutboxMessage, OutboxState
from mailroom.web.health import ago
from tests.web.test_health_page import _mailbox

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin() -> Client:
    client = Client()
    client.force_login(User.objects.create_user("alice", password="x", is_staff=True))
    return client


def test_a_mailbox_without_folders_is_a_problem_on_every_page(admin: Client) -> None:
    _mailbox("Support")
    board = save_mailbox(
        MailboxInput(label="Board", email="board@example.test", imap_host="imap.test"),
        password="pw",
    )
    set_folders(board, known=["INBOX", "Archive"], selected=[])

    health = admin.get("/health/").content.decode()
    assert "1</strong> of 2 mailboxes failing" in health
    row = health.split(f'data-mailbox="{board.pk}"', 1)[1].split("</tr>", 1)[0]
    assert "No folders chosen" in row
    assert "Folders:" in row and "no mail is fetched" in row

    page = admin.get(f"/mailboxes/{board.pk}/").content.decode()
    assert "badge no_folders" in page
    assert "Choose folders in the mailbox&#x27;s settings" in page
    assert admin.get(f"/mailboxes/{board.pk}/progress/").json()["status"] == "no_folders"
    listing = admin.get("/").content.decode()
    assert "No folders chosen" in listing


def test_a_mailbox_with_imap_switched_off_is_not_said_to_lack_folders(admin: Client) -> None:
    box = save_mailbox(
        MailboxInput(label="Outbound", email="out@example.test", imap_enabled=False),
        password="pw",
    )
    page = admin.get(f"/mailboxes/{box.pk}/").content.decode()
    assert "No folders chosen" not in page
    assert "IMAP is switched off" in page


def _refused(box: Mailbox, n: int) -> OutboxMessage:
    return OutboxMessage.objects.create(
        mailbox=box,
        message_id=f"<refused-{n}@mailroom.test>",
        to_email="customer@customer.test",
        raw=b"",
        state=OutboxState.PENDING,
        attempts=1,
        last_error="the server refused the connection; check host and port",
        next_attempt_at=timezone.now() + timedelta(minutes=30),
    )


def test_replies_waiting_after_a_refusal_are_a_problem_on_health(admin: Client) -> None:
    box = _mailbox("Support")
    _refused(box, 1)
    _refused(box, 2)

    health = admin.get("/health/").content.decode()
    row = health.split(f'data-mailbox="{box.pk}"', 1)[1].split("</tr>", 1)[0]
    assert f'<tr data-mailbox="{box.pk}" class="problem-row">' in health
    assert "Sending:" in row
    assert "2 replies waiting to be sent again; last refusal: the server refused" in row


def test_saving_new_smtp_settings_sends_the_refused_replies_at_once() -> None:
    box = _mailbox("Support")
    waiting = _refused(box, 1)
    untouched = OutboxMessage.objects.create(
        mailbox=box, message_id="<fresh@mailroom.test>", to_email="c@customer.test", raw=b""
    )

    # Saving with nothing changed leaves the backoff alone.
    same = MailboxInput(label="Support", email="support@example.test", imap_host="imap.test")
    save_mailbox(same, password=None, mailbox=box)
    waiting.refresh_from_db()
    assert waiting.next_attempt_at is not None and waiting.next_attempt_at > timezone.now()

    fixed = MailboxInput(
        label="Support", email="support@example.test", imap_host="imap.test", smtp_port=587
    )
    before = timezone.now()
    save_mailbox(fixed, password=None, mailbox=box)
    waiting.refresh_from_db()
    untouched.refresh_from_db()
    assert waiting.next_attempt_at is not None and waiting.next_attempt_at <= timezone.now()
    assert waiting.next_attempt_at >= before
    assert untouched.next_attempt_at is None


def test_sync_now_tells_an_agent_who_can_choose_the_folders(admin: Client) -> None:
    board = save_mailbox(
        MailboxInput(label="Board", email="board@example.test", imap_host="imap.test"),
        password="pw",
    )
    agent = User.objects.create_user("sam", password="x")
    set_access(board, user_ids=[agent.pk], group_ids=[])
    reader = Client()
    reader.force_login(agent)

    said = reader.post(f"/mailboxes/{board.pk}/sync/", follow=True).content.decode()
    assert "No folders are selected for sync: an administrator chooses them in the" in said
    said = admin.post(f"/mailboxes/{board.pk}/sync/", follow=True).content.decode()
    assert "No folders are selected for sync: choose them in the mailbox settings." in said


@pytest.mark.parametrize(
    ("offset", "said"),
    [(0.3, "just now"), (-0.4, "just now"), (20.5, "in 20 s"), (-5.5, "5 s ago")],
)
def test_a_moment_ago_is_just_now_not_in_0_s(offset: float, said: str) -> None:
    assert ago(timezone.now() + timedelta(seconds=offset)) == said
