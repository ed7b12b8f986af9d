"""The mailbox page and list: health, import progress, alerts, "Sync now"."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from mailroom.alerts import raise_alert
from mailroom.mailboxes.actions import MailboxInput, save_mailbox, set_access, set_folders
from mailroom.models import Alert, Folder, Mailbox, MailboxConnection, MailboxStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def mailbox() -> Mailbox:
    box = save_mailbox(
        MailboxInput(label="Support", email="support@example.test", imap_host="imap.example.test"),
        password="pw",
    )
    set_folders(box, known=["INBOX", "Archive", "Spam"], selected=["INBOX", "Archive"])
    return box


@pytest.fixture
def admin() -> Client:
    client = Client()
    client.force_login(User.objects.create_user("alice", password="x", is_staff=True))
    return client


@pytest.fixture
def member(mailbox: Mailbox) -> Client:
    user = User.objects.create_user("bob", password="x")
    set_access(mailbox, user_ids=[user.pk], group_ids=[])
    client = Client()
    client.force_login(user)
    return client


def _importing(mailbox: Mailbox, name: str, imported: int, backlog: int) -> None:
    Folder.objects.filter(mailbox=mailbox, name=name).update(
        uidvalidity=7,
        account_version=mailbox.account_version,
        imported=imported,
        backlog=backlog,
        last_synced_at=timezone.now(),
    )


def test_it_shows_a_first_import_with_a_progress_bar_and_per_folder_counts(
    admin: Client, mailbox: Mailbox
) -> None:
    _importing(mailbox, "INBOX", 3_000, 12_000)
    _importing(mailbox, "Archive", 500, 0)

    page = admin.get(f"/mailboxes/{mailbox.pk}/").content.decode()

    bar = page.split('id="import"', 1)[1].split("</div>", 1)[0]
    assert " hidden" not in bar.split(">", 1)[0]
    assert '<progress id="import-progress" max="15500" value="3500">' in bar
    assert "3,500 imported, 12,000 to go" in bar
    inbox = page.split(f'data-folder="{mailbox.folders.get(name="INBOX").pk}"', 1)[1]
    inbox = inbox.split("</tr>", 1)[0]
    assert "3,000" in inbox and "12,000 to go" in inbox
    archive = page.split(f'data-folder="{mailbox.folders.get(name="Archive").pk}"', 1)[1]
    assert "up to date" in archive.split("</tr>", 1)[0]
    assert "Spam" not in page.split('id="folders"', 1)[1].split("</table>", 1)[0]
    assert 'src="/static/mailroom/mailbox.js"' in page
    assert f'data-progress-url="/mailboxes/{mailbox.pk}/progress/"' in page


def test_its_progress_endpoint_reports_the_same_numbers_as_json(
    member: Client, mailbox: Mailbox
) -> None:
    _importing(mailbox, "INBOX", 3_000, 12_000)

    response = member.get(f"/mailboxes/{mailbox.pk}/progress/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    data = response.json()
    assert data["importing"] is True
    assert (data["imported"], data["backlog"]) == (3_000, 12_000)
    assert data["progress_text"] == "3,000 imported, 12,000 to go"
    assert data["status_label"] == "Not synced yet"
    assert data["note"] == "The first import is under way; the page updates by itself."
    states = {f["name"]: f["state"] for f in data["folders"]}
    assert states == {"INBOX": "12,000 to go", "Archive": "not synced yet"}
    assert "pw" not in response.content.decode().replace("progress", "")


def test_it_hides_the_progress_bar_once_nothing_is_left_to_fetch(
    admin: Client, mailbox: Mailbox
) -> None:
    _importing(mailbox, "INBOX", 3_000, 0)
    page = admin.get(f"/mailboxes/{mailbox.pk}/").content.decode()
    assert '<div class="import" id="import" hidden>' in page
    assert admin.get(f"/mailboxes/{mailbox.pk}/progress/").json()["importing"] is False


@pytest.mark.parametrize(
    ("status", "detail", "label"),
    [
        (MailboxStatus.OK, "", "Working"),
        (MailboxStatus.AUTH_ERROR, "the server refused the login", "Authentication failed"),
        (MailboxStatus.DEGRADED, "connection timed out", "Server unreachable, retrying"),
        (MailboxStatus.ERROR, "internal error: KeyError", "Error"),
        (MailboxStatus.NEW, "", "Not synced yet"),
    ],
)
def test_it_shows_the_status_its_detail_and_the_last_successful_sync(
    admin: Client, mailbox: Mailbox, status: str, detail: str, label: str
) -> None:
    synced = timezone.now() - timedelta(hours=2)
    Mailbox.objects.filter(pk=mailbox.pk).update(
        status=status,
        status_detail=detail,
        last_synced_at=synced,
        retry_at=timezone.now() + timedelta(minutes=5),
        failing_since=timezone.now() - timedelta(minutes=1),
        auth_failed_version=mailbox.credential_version if status == "auth_error" else None,
    )

    page = admin.get(f"/mailboxes/{mailbox.pk}/").content.decode()
    listing = admin.get("/").content.decode()

    assert (
        f'<span class="badge {status}" data-status-badge data-field="status_label">{label}' in page
    )
    health = page.split('id="health"', 1)[1].split('id="import"', 1)[0]
    assert "Last successful sync" in health and "never" not in health
    data = admin.get(f"/mailboxes/{mailbox.pk}/progress/").json()
    assert data["status_label"] == label
    if detail:
        assert detail in health
        assert data["error"] == detail
        assert detail in listing
    else:
        assert data["error"] == "none"
    assert ("Next try at" in health) == (status == MailboxStatus.DEGRADED)
    assert f'<span class="badge {status}">{label}</span>' in listing


def test_it_says_imap_is_disabled_and_disables_sync_now(
    admin: Client, mailbox: Mailbox, enqueued: list[tuple[object, ...]]
) -> None:
    MailboxConnection.objects.filter(mailbox=mailbox).update(imap_enabled=False)

    page = admin.get(f"/mailboxes/{mailbox.pk}/").content.decode()

    assert ">IMAP disabled<" in page
    assert "IMAP is switched off in this mailbox" in page
    button = page.split('id="sync-now"', 1)[1].split(">", 1)[0]
    assert "disabled" in button
    response = admin.post(f"/mailboxes/{mailbox.pk}/sync/", follow=True)
    assert "IMAP is disabled for this mailbox" in response.content.decode()
    assert enqueued == []
    assert ">IMAP disabled<" in admin.get("/").content.decode()


def test_sync_now_syncs_each_selected_folder_at_once(
    member: Client,
    mailbox: Mailbox,
    enqueued: list[tuple[object, ...]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    Mailbox.objects.filter(pk=mailbox.pk).update(
        status=MailboxStatus.DEGRADED, retry_at=timezone.now() + timedelta(minutes=20)
    )
    page = member.get(f"/mailboxes/{mailbox.pk}/").content.decode()
    assert "disabled" not in page.split('id="sync-now"', 1)[1].split(">", 1)[0]

    with django_capture_on_commit_callbacks(execute=True):
        response = member.post(f"/mailboxes/{mailbox.pk}/sync/", follow=True)

    assert "Sync requested" in response.content.decode()
    selected = mailbox.folders.filter(selected=True).order_by("name")
    assert sorted(enqueued) == sorted(("sync_folder", f.pk, True) for f in selected)
    mailbox.refresh_from_db()
    assert mailbox.retry_at is None


def test_sync_now_explains_that_a_refused_login_waits_for_new_credentials(
    admin: Client, mailbox: Mailbox, enqueued: list[tuple[object, ...]]
) -> None:
    Mailbox.objects.filter(pk=mailbox.pk).update(
        status=MailboxStatus.AUTH_ERROR, auth_failed_version=mailbox.credential_version
    )
    response = admin.post(f"/mailboxes/{mailbox.pk}/sync/", follow=True)
    assert "the server refused the login" in response.content.decode()
    assert enqueued == []


def test_sync_now_needs_a_post_with_a_csrf_token(mailbox: Mailbox) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.create_user("alice", password="x", is_staff=True))
    assert client.get(f"/mailboxes/{mailbox.pk}/sync/").status_code == 405
    assert client.post(f"/mailboxes/{mailbox.pk}/sync/").status_code == 403


def test_it_shows_open_alerts_and_an_administrator_dismisses_them(
    admin: Client, member: Client, mailbox: Mailbox
) -> None:
    raise_alert(mailbox.pk, "auth", "Support: the IMAP server refused the login.")
    raise_alert(mailbox.pk, "missing:Archive", "Support: the folder 'Archive' is gone.")
    auth = Alert.objects.get(key="auth")

    page = admin.get(f"/mailboxes/{mailbox.pk}/").content.decode()
    assert "the IMAP server refused the login" in page
    assert page.count(">Dismiss</button>") == 2
    assert "2 alerts" in admin.get("/").content.decode()
    # Members see the alerts but do not manage the mailbox.
    assert (
        "the IMAP server refused the login"
        in member.get(f"/mailboxes/{mailbox.pk}/").content.decode()
    )
    assert ">Dismiss<" not in member.get(f"/mailboxes/{mailbox.pk}/").content.decode()
    assert member.post(f"/mailboxes/{mailbox.pk}/alerts/{auth.pk}/dismiss/").status_code == 404

    response = admin.post(f"/mailboxes/{mailbox.pk}/alerts/{auth.pk}/dismiss/", follow=True)

    assert "Alert dismissed." in response.content.decode()
    auth.refresh_from_db()
    assert auth.resolved_at is not None
    assert "refused the login" not in response.content.decode().split('id="health"', 1)[0]
    assert Alert.objects.filter(resolved_at__isnull=True).count() == 1


def test_it_dismisses_only_alerts_of_the_mailbox_in_the_address(
    admin: Client, mailbox: Mailbox
) -> None:
    other = save_mailbox(MailboxInput(label="Sales", email="sales@example.test"), password="")
    raise_alert(other.pk, "auth", "Sales: refused.")
    alert = Alert.objects.get()
    assert admin.post(f"/mailboxes/{mailbox.pk}/alerts/{alert.pk}/dismiss/").status_code == 404
    alert.refresh_from_db()
    assert alert.resolved_at is None


def test_it_says_when_new_credentials_will_be_tried_after_a_refused_login(
    admin: Client, mailbox: Mailbox
) -> None:
    Mailbox.objects.filter(pk=mailbox.pk).update(
        status=MailboxStatus.AUTH_ERROR,
        status_detail="the server refused the login",
        auth_failed_version=mailbox.credential_version - 1,
    )
    data = admin.get(f"/mailboxes/{mailbox.pk}/progress/").json()
    assert data["status_label"] == "Authentication failed"
    assert data["error"] == (
        "the server refused the login. New credentials were saved; the next sync tries them."
    )


def test_its_errors_name_the_server_to_administrators_only(
    mailbox: Mailbox, admin: Client, member: Client
) -> None:
    error = "the host name 'IMAP.example.test' does not resolve"
    Mailbox.objects.filter(pk=mailbox.pk).update(status=MailboxStatus.DEGRADED, status_detail=error)
    Folder.objects.filter(mailbox=mailbox, name="INBOX").update(last_error=error)
    raise_alert(mailbox.pk, "degraded", f"Support: {error} since 30 minutes.")
    pages = {
        "admin": admin.get(f"/mailboxes/{mailbox.pk}/").content.decode()
        + admin.get(f"/mailboxes/{mailbox.pk}/progress/").content.decode(),
        "member": member.get(f"/mailboxes/{mailbox.pk}/").content.decode()
        + member.get(f"/mailboxes/{mailbox.pk}/progress/").content.decode()
        + member.get("/").content.decode(),
    }
    assert "IMAP.example.test" in pages["admin"]
    assert "imap.example.test" not in pages["member"].lower()
    assert "the IMAP server" in pages["member"] and "does not resolve" in pages["member"]
