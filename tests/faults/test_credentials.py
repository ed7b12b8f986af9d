"""A password that stopped working (threats.md §4.1 F14), against Dovecot's passwd-file.

The password is changed on the server; Dovecot answers ``NO [AUTHENTICATIONFAILED]`` and logs
every login and every failed password check, which is what is counted here: at most one LOGIN
per credential version, however many passes, sweeps and watchers come by. A lockout or a
fail2ban ban is worse than a stopped mailbox.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pytest

from mailroom.mailboxes.actions import MailboxInput, save_mailbox
from mailroom.models import Mailbox, MailboxStatus, Message
from mailroom.tasks import jobs
from mailroom.watch import idle
from mailroom.watch.idle import IdleWatcher
from tests.faults.helpers import customer_mail, open_alerts, sync_failing, sync_once
from tests.servers.fixtures import ImapAccount

pytestmark = pytest.mark.django_db


def _input(mailbox: Mailbox, **changes: object) -> MailboxInput:
    """The mailbox's current settings, as the edit form would post them back."""
    c = mailbox.connection
    data = MailboxInput(
        label=mailbox.label,
        email=mailbox.email,
        imap_host=c.imap_host,
        imap_port=c.imap_port,
        imap_encryption=c.imap_encryption,
        imap_enabled=c.imap_enabled,
        smtp_host=c.smtp_host,
        smtp_port=c.smtp_port,
        smtp_encryption=c.smtp_encryption,
        smtp_enabled=c.smtp_enabled,
        username=c.username,
        processor_kind=mailbox.processor_kind,
        processor_settings=mailbox.processor_settings,
    )
    for name, value in changes.items():
        setattr(data, name, value)
    return data


def test_a_refused_password_is_tried_once_per_credential_version_and_resumes_when_changed(
    make_mailbox: Callable[..., Mailbox],
    imap_account: ImapAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No random start-up delay for the watcher below.
    monkeypatch.setattr(idle, "random", SimpleNamespace(uniform=lambda low, high: 0.0))
    server, user = imap_account.server, imap_account.username
    mailbox = make_mailbox()
    imap_account.append("INBOX", customer_mail(1))
    sync_once()
    assert (server.login_count(user), server.auth_failure_count(user)) == (2, 0)  # append, sync
    folder = mailbox.folders.get(name="INBOX")

    new_password = imap_account.password + "-rotated"
    server.set_password(user, new_password)
    imap_account.server.deliver_maildir(user, "INBOX", customer_mail(2))

    assert "refused the user name or password" in sync_failing()
    server.wait_for_log(f"passwd-file({user}", count=1)
    mailbox.refresh_from_db()
    assert mailbox.status == MailboxStatus.AUTH_ERROR
    assert mailbox.auth_failed_version == mailbox.credential_version

    # More passes, the sweep, a watcher, a save that changes no credential: no LOGIN at all.
    for _ in range(3):
        assert "waiting for new credentials" in sync_failing()
    assert folder.pk not in jobs.due_folder_ids()
    jobs.sweep()
    watcher = IdleWatcher(mailbox.pk, folder.pk, lambda ids: None)
    watcher.run()  # in this thread: it returns at once instead of logging in
    assert "refused" in watcher.finished_reason
    save_mailbox(_input(mailbox, label="Support desk"), password=None, mailbox=mailbox)
    sync_failing()

    assert (server.login_count(user), server.auth_failure_count(user)) == (2, 1)
    assert open_alerts(mailbox, "auth") == 1
    mailbox.refresh_from_db()
    assert mailbox.status == MailboxStatus.AUTH_ERROR

    # The administrator enters the new password: a new credential version, one LOGIN.
    save_mailbox(_input(mailbox), password=new_password, mailbox=mailbox)
    assert sync_once()["stored"] == 1
    assert (server.login_count(user), server.auth_failure_count(user)) == (3, 1)
    mailbox.refresh_from_db()
    assert mailbox.status == MailboxStatus.OK and mailbox.auth_failed_version is None
    assert open_alerts(mailbox, "auth") == 0
    assert Message.objects.count() == 2


def test_a_wrong_new_password_costs_one_more_login_only(
    make_mailbox: Callable[..., Mailbox], imap_account: ImapAccount
) -> None:
    server, user = imap_account.server, imap_account.username
    mailbox = make_mailbox()
    server.set_password(user, imap_account.password + "-rotated")

    sync_failing()
    save_mailbox(_input(mailbox), password="still-wrong", mailbox=mailbox)  # version 2
    sync_failing()
    sync_failing()
    server.wait_for_log(f"passwd-file({user}", count=2)

    assert (server.login_count(user), server.auth_failure_count(user)) == (0, 2)
    assert open_alerts(mailbox, "auth") == 1
