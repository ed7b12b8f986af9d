"""Sync the folders of one mailbox over one IMAP session, and keep the mailbox's health.

Failures are classified in one place (:func:`mailroom.transport.errors.classify`) and acted on
here:
- refused credentials stop the mailbox: status "authentication failed", one alert, and no
  further LOGIN with the same credential version (a lockout or fail2ban ban is worse than a
  stopped mailbox); it resumes when the user name or password changes;
- transient failures (server down, timeouts, too many connections) retry with exponential
  backoff and jitter up to a cap: status "degraded", one alert once they have lasted a while,
  one notice on recovery;
- a folder gone from the server is marked missing, its mail kept; the other folders go on.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone

from mailroom import conf, metrics
from mailroom.alerts import notify, raise_alert, resolve_alert
from mailroom.credentials import CredentialError
from mailroom.mailboxes.servers import imap_settings
from mailroom.models import Folder, Mailbox, MailboxStatus
from mailroom.store.incoming import LeaseLost
from mailroom.sync.folder import FolderReport, Progress, Stored, next_poll, sync_folder
from mailroom.transport.errors import TransportError, classify
from mailroom.transport.imap import ImapSession

logger = logging.getLogger(__name__)


@dataclass
class MailboxReport:
    """What one sync of a mailbox did, and the error that stopped it, if any."""

    mailbox_id: int
    folders: list[FolderReport] = field(default_factory=list)
    error: str = ""

    @property
    def stored(self) -> int:
        """Messages stored."""
        return sum(f.stored for f in self.folders)


def backoff(failures: int) -> timedelta:
    """The wait before the next try after ``failures`` transient failures in a row: doubling
    from 5 s up to the cap, with jitter so that many mailboxes of one server spread out."""
    base = min(conf.RETRY_CAP_SECONDS, 5 * 2 ** min(failures - 1, 20))
    return timedelta(seconds=base * random.uniform(0.5, 1.0))  # noqa: S311 (not for secrets)


def why_not_syncing(mailbox: Mailbox, *, force: bool = False) -> str | None:
    """Why the mailbox must not connect now, or None. ``force`` ignores a pending backoff."""
    if not mailbox.connection.imap_enabled:
        return "IMAP is disabled for this mailbox"
    if mailbox.auth_failed_version == mailbox.credential_version:
        return "the server refused the login; waiting for new credentials"
    if not force and mailbox.retry_at is not None and mailbox.retry_at > timezone.now():
        return "waiting before the next try"
    return None


def _schedule_polls(folder_ids: Iterable[int]) -> None:
    Folder.objects.filter(pk__in=list(folder_ids)).update(next_poll_at=next_poll())


# A healthy mailbox's "last successful sync" is written at most this often: a watcher that
# syncs on every push must not add a write per message for it.
HEALTH_WRITE_INTERVAL = timedelta(seconds=10)


def _succeeded(mailbox: Mailbox) -> None:
    now = timezone.now()
    healthy = (
        mailbox.status == MailboxStatus.OK
        and mailbox.failing_since is None
        and mailbox.last_synced_at is not None
        and now - mailbox.last_synced_at < HEALTH_WRITE_INTERVAL
    )
    if healthy:
        return
    if mailbox.failing_since is not None and resolve_alert(mailbox.pk, "degraded"):
        notify(mailbox.pk, "recovered", f"{mailbox.label}: the mail server is reachable again.")
    if mailbox.status != MailboxStatus.OK:
        resolve_alert(mailbox.pk, "auth")
    Mailbox.objects.filter(pk=mailbox.pk).update(
        status=MailboxStatus.OK,
        status_detail="",
        last_synced_at=now,
        failing_since=None,
        failures=0,
        retry_at=None,
    )


def record_failure(mailbox: Mailbox, exc: BaseException) -> str:
    """Act on a failure to reach or log in to the mailbox's server; return its description."""
    failure = classify(exc)
    metrics.FAILURES.labels("sync", failure.kind).inc()
    now = timezone.now()
    if failure.kind == "auth":
        Mailbox.objects.filter(pk=mailbox.pk).update(
            status=MailboxStatus.AUTH_ERROR,
            status_detail=failure.reason,
            auth_failed_version=mailbox.credential_version,
        )
        raise_alert(
            mailbox.pk,
            "auth",
            f"{mailbox.label}: the IMAP server refused the login ({failure.reason}). Sync is "
            "stopped until the user name or password is changed.",
        )
        return failure.reason
    failures = mailbox.failures + 1
    since = mailbox.failing_since or now
    status = MailboxStatus.DEGRADED if failure.kind == "transient" else MailboxStatus.ERROR
    Mailbox.objects.filter(pk=mailbox.pk).update(
        status=status,
        status_detail=failure.reason,
        failing_since=since,
        failures=failures,
        retry_at=now + backoff(failures),
    )
    if now - since >= timedelta(minutes=conf.DEGRADED_ALERT_MINUTES):
        raise_alert(
            mailbox.pk,
            "degraded",
            f"{mailbox.label}: mail cannot be fetched since {since:%Y-%m-%d %H:%M} UTC "
            f"({failure.reason}); mailroom keeps trying.",
        )
    return failure.reason


def sync_mailbox(
    mailbox_id: int,
    folder_ids: Iterable[int] | None = None,
    *,
    session: ImapSession | None = None,
    force: bool = False,
    on_stored: Stored | None = None,
    progress: Progress | None = None,
) -> MailboxReport:
    """Fetch new mail from the mailbox's selected folders (or only ``folder_ids``)."""
    report = MailboxReport(mailbox_id=mailbox_id)
    mailbox = Mailbox.objects.select_related("connection").filter(pk=mailbox_id).first()
    if mailbox is None:
        return report  # deleted since this sync was asked for: nothing to do
    # No ORDER BY: Folder's default ordering joins the mailbox table, on every push.
    folders = mailbox.folders.filter(selected=True).order_by()
    if folder_ids is not None:
        folders = folders.filter(pk__in=list(folder_ids))
    wanted = list(folders.values_list("pk", flat=True))
    if not wanted:
        return report
    reason = why_not_syncing(mailbox, force=force)
    if reason is not None:
        if mailbox.connection.imap_enabled:
            report.error = reason
        else:
            # Switched off by the administrator: nothing to report but the status.
            Mailbox.objects.filter(pk=mailbox.pk).exclude(status=MailboxStatus.DISABLED).update(
                status=MailboxStatus.DISABLED, status_detail=reason
            )
        _schedule_polls(wanted)
        return report
    opened: list[ImapSession] = []
    started = time.monotonic()

    def reopen() -> ImapSession:
        # Sessions opened here are closed here; the caller's own session is left to it.
        fresh = ImapSession(imap_settings(mailbox.connection)).__enter__()
        opened.append(fresh)
        return fresh

    try:
        _sync_folders(mailbox, wanted, session or reopen(), report, on_stored, progress, reopen)
    except CredentialError as exc:
        report.error = str(exc)
        Mailbox.objects.filter(pk=mailbox.pk).update(
            status=MailboxStatus.AUTH_ERROR, status_detail=str(exc)
        )
        return report
    except LeaseLost as exc:
        # Another sync took the folder over (this one stalled past its lease): not a failure
        # of the mailbox; that sync carries on.
        report.error = str(exc)
        return report
    except TransportError as exc:
        report.error = record_failure(mailbox, exc)
        _schedule_polls(wanted)
        return report
    except Exception as exc:
        Mailbox.objects.filter(pk=mailbox.pk).update(
            status=MailboxStatus.ERROR, status_detail=f"internal error: {type(exc).__name__}"
        )
        _schedule_polls(wanted)
        raise
    finally:
        for each in opened:
            each.close()
    metrics.SYNC_SECONDS.observe(time.monotonic() - started)
    _succeeded(mailbox)
    return report


def _sync_folders(
    mailbox: Mailbox,
    folder_ids: list[int],
    session: ImapSession,
    report: MailboxReport,
    on_stored: Stored | None,
    progress: Progress | None,
    reopen: Callable[[], ImapSession],
) -> None:
    current = session

    def fresh() -> ImapSession:
        # A folder that had to drop the connection hands the next folder the new one.
        nonlocal current
        current = reopen()
        return current

    failed: list[TransportError] = []
    for folder_id in folder_ids:
        try:
            if failed:
                # The last folder's failure may have broken the connection.
                fresh()
            report.folders.append(
                sync_folder(
                    folder_id, current, on_stored=on_stored, progress=progress, reopen=fresh
                )
            )
        except TransportError as exc:
            failure = classify(exc)
            if failure.kind == "auth":
                raise
            name = Folder.objects.get(pk=folder_id).name
            logger.warning("mailbox %s, folder %r: %s", mailbox.label, name, failure.reason)
            if failure.kind != "folder_missing":
                # This folder failed; the others are still synced (over a new connection).
                Folder.objects.filter(pk=folder_id).update(last_error=failure.reason)
                failed.append(exc)
                continue
            Folder.objects.filter(pk=folder_id).update(missing=True, last_error=failure.reason)
            raise_alert(
                mailbox.pk,
                f"missing:{name}",
                f"{mailbox.label}: the folder {name!r} is gone from the server; its mail stays "
                "in mailroom.",
            )
            continue
    if failed and len(failed) == len(folder_ids):
        raise failed[0]
