"""How a mailbox is doing, as the mailbox page, the list and the progress endpoint show it.

Everything here is read-only and ready to display: counts are formatted ("12,000 to go") and
dates are rendered the way the templates render them, so the page and the JSON it polls agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, Max, Q
from django.utils import formats, timezone
from django.utils.timesince import timesince, timeuntil

from mailroom.models import (
    Alert,
    Folder,
    HistoryMode,
    Mailbox,
    MailboxStatus,
    OutboxMessage,
    OutboxState,
    ProcessingRecord,
    ProcessingState,
    WatchProcess,
)

# Shown under the status when the engine left no detail of its own.
_DEFAULT_DETAIL = {
    MailboxStatus.NEW: "Mail is fetched within seconds of saving; this page updates by itself.",
    MailboxStatus.DISABLED: "IMAP is switched off in this mailbox's settings: no mail is fetched.",
}

# Not a stored status: what a mailbox that fetches mail but has no folder to sync shows (it
# never connects, so nothing else would ever say that it gets no mail).
NO_FOLDERS = "no_folders"
_NO_FOLDERS_LABEL = "No folders chosen"
_NO_FOLDERS_DETAIL = (
    "No folder is chosen for syncing, so no mail is fetched. Choose folders in the mailbox's "
    "settings (Check connection lists the server's folders)."
)

_FAILING = frozenset(
    {MailboxStatus.AUTH_ERROR, MailboxStatus.DEGRADED, MailboxStatus.ERROR, NO_FOLDERS}
)


def when(moment: datetime | None, default: str = "never") -> str:
    """``moment`` in the site's date format and time zone, or ``default``."""
    if moment is None:
        return default
    return str(formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT"))


def count(n: int) -> str:
    """A count with thousands separators: 12,000."""
    return f"{n:,}"


@dataclass
class FolderHealth:
    """One synced folder: how much was imported and how much is left."""

    id: int
    name: str
    imported: int
    backlog: int
    last_synced_at: datetime | None
    missing: bool
    last_error: str
    started: bool

    @property
    def state(self) -> str:
        """A few words on where the folder stands."""
        if self.missing:
            return "missing on the server"
        if not self.started:
            return "not synced yet"
        if self.backlog:
            return f"{count(self.backlog)} to go"
        return "up to date"

    @property
    def imported_text(self) -> str:
        return count(self.imported)

    @property
    def last_synced_text(self) -> str:
        return when(self.last_synced_at)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "imported": self.imported_text,
            "state": self.state,
            "last_synced": self.last_synced_text,
            "missing": self.missing,
            "last_error": self.last_error,
        }


@dataclass
class MailboxHealth:
    """The status of one mailbox, its folders, and the progress of an import under way."""

    status: str
    label: str
    detail: str
    last_synced_at: datetime | None
    retry_at: datetime | None
    failing_since: datetime | None
    imap_enabled: bool
    auth_stopped: bool
    folders: list[FolderHealth] = field(default_factory=list)

    @property
    def failing(self) -> bool:
        """Whether the status is a problem (then ``detail`` is the last error)."""
        return self.status in _FAILING

    @property
    def error(self) -> str:
        """The last error, while the mailbox has a problem."""
        return self.detail if self.failing else ""

    @property
    def note(self) -> str:
        """What the status means, when it is not a problem."""
        if self.failing:
            return ""
        if self.status == MailboxStatus.NEW and self.importing:
            return "The first import is under way; the page updates by itself."
        return self.detail

    @property
    def imported(self) -> int:
        return sum(f.imported for f in self.folders)

    @property
    def backlog(self) -> int:
        return sum(f.backlog for f in self.folders if not f.missing)

    @property
    def importing(self) -> bool:
        """Whether messages are still waiting on the server to be fetched."""
        return self.imap_enabled and self.backlog > 0

    @property
    def percent(self) -> int:
        total = self.imported + self.backlog
        return 100 if total == 0 else int(100 * self.imported / total)

    @property
    def progress_text(self) -> str:
        return f"{count(self.imported)} imported, {count(self.backlog)} to go"

    @property
    def retry_text(self) -> str:
        """When the next try is due, while a transient failure lasts."""
        if self.status != MailboxStatus.DEGRADED or self.retry_at is None:
            return ""
        since = f" (failing since {when(self.failing_since)})" if self.failing_since else ""
        return f"Next try at {when(self.retry_at)}{since}."

    def as_json(self) -> dict[str, Any]:
        """What the mailbox page polls while it is open."""
        return {
            "status": self.status,
            "status_label": self.label,
            "status_detail": self.detail,
            "note": self.note,
            "error": self.error or "none",
            "retry": self.retry_text,
            "last_synced": when(self.last_synced_at),
            "importing": self.importing,
            "imported": self.imported,
            "backlog": self.backlog,
            "progress_text": self.progress_text,
            "folders": [f.as_json() for f in self.folders],
        }


def _status(mailbox: Mailbox) -> tuple[str, str]:
    """The status to show and its detail. The stored status is what the last sync found; the
    settings saved since then can already say more (IMAP switched off or on, new credentials)."""
    status, detail = mailbox.status, mailbox.status_detail
    if not mailbox.connection.imap_enabled:
        return MailboxStatus.DISABLED, _DEFAULT_DETAIL[MailboxStatus.DISABLED]
    if status == MailboxStatus.DISABLED:
        status, detail = MailboxStatus.NEW, ""
    if status == MailboxStatus.AUTH_ERROR and not _auth_stopped(mailbox):
        detail = _sentence(detail) + " New credentials were saved; the next sync tries them."
        detail = detail.strip()
    return status, detail or _DEFAULT_DETAIL.get(MailboxStatus(status), "")


def _sentence(text: str) -> str:
    """``text`` ending with a full stop, so that another sentence can follow it."""
    text = text.strip()
    return text if not text or text.endswith((".", "!", "?")) else text + "."


def _auth_stopped(mailbox: Mailbox) -> bool:
    return mailbox.auth_failed_version == mailbox.credential_version


def _folder(folder: Folder, account_version: int) -> FolderHealth:
    started = folder.uidvalidity is not None and folder.account_version == account_version
    return FolderHealth(
        id=folder.pk,
        name=folder.name,
        imported=folder.imported if started else 0,
        backlog=folder.backlog if started else 0,
        last_synced_at=folder.last_synced_at if started else None,
        missing=folder.missing,
        last_error=folder.last_error,
        started=started,
    )


def without_server(text: str, mailbox: Mailbox) -> str:
    """``text`` with the mailbox's server names and login replaced by what they are: an
    error such as "the host name 'imap.example.net' does not resolve" names them."""
    c = mailbox.connection
    names = [(c.imap_host, "the IMAP server"), (c.smtp_host, "the SMTP server")]
    names.append((c.username, "the mailbox's login"))
    for value, words in sorted(names, key=lambda pair: -len(pair[0])):
        if value:
            text = re.sub(re.escape(value), words, text, flags=re.IGNORECASE)
    return text


def mailbox_health(
    mailbox: Mailbox, folders: list[Folder] | None = None, *, server_settings: bool = True
) -> MailboxHealth:
    """The health of ``mailbox`` (with its connection loaded) and of its selected folders.

    ``server_settings=False`` (for people who read the mailbox but do not manage it): errors
    say what failed without naming the server's host or the login.
    """
    if folders is None:
        folders = list(mailbox.folders.filter(selected=True).order_by("name"))
    status, detail = _status(mailbox)
    label = MailboxStatus(status).label
    if not folders and status != MailboxStatus.DISABLED:
        status, label, detail = NO_FOLDERS, _NO_FOLDERS_LABEL, _NO_FOLDERS_DETAIL
    shown = [_folder(f, mailbox.account_version) for f in folders]
    if not server_settings:
        detail = without_server(detail, mailbox)
        for folder in shown:
            folder.last_error = without_server(folder.last_error, mailbox)
    return MailboxHealth(
        status=status,
        label=label,
        detail=detail,
        last_synced_at=mailbox.last_synced_at,
        retry_at=mailbox.retry_at,
        failing_since=mailbox.failing_since,
        imap_enabled=mailbox.connection.imap_enabled,
        auth_stopped=_auth_stopped(mailbox),
        folders=shown,
    )


def history_summary(mailbox: Mailbox) -> str:
    """How much existing mail the current account imports, in a sentence."""
    mode = HistoryMode(mailbox.history_mode)
    text = {
        HistoryMode.NONE: "None: only mail that arrived after the account was connected",
        HistoryMode.DAYS: f"The last {mailbox.history_days or 0} days before it was connected",
        HistoryMode.ALL: "All of it",
    }[mode]
    if mode != HistoryMode.NONE and mailbox.history_convert:
        text += ", converted to Leads/Cases"
    return text + "."


# The Health page: every mailbox on one page, in a fixed number of queries.


def ago(moment: datetime | None, default: str = "never") -> str:
    """``moment`` relative to now: "3 minutes ago", "in 20 seconds", or ``default``."""
    if moment is None:
        return default
    now = timezone.now()
    delta = (moment - now).total_seconds()
    if abs(delta) < 1:
        return "just now"  # not "in 0 s" for what happened a moment ago
    seconds = int(delta)
    if 0 <= seconds < 60:
        return f"in {seconds} s"
    if seconds >= 60:
        return f"in {timeuntil(moment, now, depth=1)}"
    if seconds > -60:
        return f"{-seconds} s ago"
    return f"{timesince(moment, now, depth=1)} ago"


@dataclass(frozen=True)
class Problem:
    """One thing that went wrong with a mailbox: where, and the error as it was recorded."""

    where: str
    text: str


@dataclass(frozen=True)
class Watcher:
    """Who watches a mailbox (IDLE): a watcher's owner token, its host, and its lease."""

    owner: str
    host: str
    until: datetime | None
    live: bool

    @property
    def text(self) -> str:
        if not self.owner:
            return "no watcher"
        who = f"{self.host or 'watcher'} {self.owner[:8]}"
        if self.live:
            return f"{who}, lease expires {ago(self.until)}"
        return f"{who}, lease expired {ago(self.until)}"


@dataclass
class MailboxStatusRow:
    """One mailbox on the Health page."""

    mailbox: Mailbox
    health: MailboxHealth
    unprocessed: int = 0
    processing_failed: int = 0
    outbox_pending: int = 0
    outbox_failed: int = 0
    open_alerts: int = 0
    watcher: Watcher = field(default_factory=lambda: Watcher("", "", None, False))
    problems: list[Problem] = field(default_factory=list)

    @property
    def text(self) -> dict[str, str]:
        """The counts with thousands separators."""
        return {
            "unprocessed": count(self.unprocessed),
            "outbox_pending": count(self.outbox_pending),
            "imported": count(self.health.imported),
        }

    @property
    def history(self) -> str:
        return history_summary(self.mailbox)

    @property
    def last_synced_text(self) -> str:
        return ago(self.health.last_synced_at)

    @property
    def last_synced_exact(self) -> str:
        return when(self.health.last_synced_at, default="")

    @property
    def has_problem(self) -> bool:
        return bool(self.health.failing or self.problems or self.open_alerts)

    @property
    def rank(self) -> int:
        """Problems first: failing connections, then failed work and alerts, then work under way,
        then mailboxes at rest."""
        if self.health.status in (MailboxStatus.ERROR, MailboxStatus.AUTH_ERROR):
            return 0
        if self.health.status in (MailboxStatus.DEGRADED, NO_FOLDERS):
            return 1
        if self.problems or self.open_alerts:
            return 2
        if self.unprocessed or self.outbox_pending or self.health.importing:
            return 3
        if self.health.status == MailboxStatus.NEW:
            return 4
        if self.health.status == MailboxStatus.DISABLED:
            return 6
        return 5


@dataclass
class HealthTotals:
    """The deployment at a glance."""

    mailboxes: int = 0
    failing: int = 0
    unprocessed: int = 0
    processing_failed: int = 0
    unfetched: int = 0
    outbox_pending: int = 0
    outbox_failed: int = 0
    open_alerts: int = 0

    @property
    def text(self) -> dict[str, str]:
        """The counts with thousands separators."""
        return {name: count(value) for name, value in vars(self).items()}


@dataclass
class HealthOverview:
    rows: list[MailboxStatusRow]
    totals: HealthTotals
    checked_at: datetime


_OUTBOX_WAITING = (OutboxState.PENDING, OutboxState.SENDING)
_OUTBOX_FAILED = (OutboxState.FAILED, OutboxState.ABANDONED)
_OUTBOX_RETRYING = Q(state=OutboxState.PENDING) & ~Q(last_error="")


def health_overview() -> HealthOverview:
    """Every mailbox's status, backlog, last errors, alerts and watcher, problems first.

    At most eight queries however many mailboxes there are: the mailboxes, their selected
    folders, one grouped count each for processing, the outbox and alerts, the two errors
    those counts point at (skipped when nothing failed), and the watchers.

    The outbox count reads the ``state`` of every outbox row (no index on it yet), which is
    also what ``/metrics`` does.
    """
    mailboxes = list(Mailbox.objects.select_related("connection").order_by("label"))
    folders: dict[int, list[Folder]] = {}
    for folder in Folder.objects.filter(selected=True).order_by("mailbox_id", "name"):
        folders.setdefault(folder.mailbox_id, []).append(folder)

    processing = {
        row["message__mailbox_id"]: row
        for row in ProcessingRecord.objects.filter(
            state__in=(ProcessingState.PENDING, ProcessingState.FAILED)
        )
        .values("message__mailbox_id")
        .annotate(
            pending=Count("id", filter=Q(state=ProcessingState.PENDING)),
            failed=Count("id", filter=Q(state=ProcessingState.FAILED)),
            last_failed=Max("id", filter=Q(state=ProcessingState.FAILED)),
        )
        .order_by()
    }
    outbox = {
        row["mailbox_id"]: row
        for row in OutboxMessage.objects.filter(state__in=(*_OUTBOX_WAITING, *_OUTBOX_FAILED))
        .values("mailbox_id")
        .annotate(
            pending=Count("id", filter=Q(state__in=_OUTBOX_WAITING)),
            failed=Count("id", filter=Q(state__in=_OUTBOX_FAILED)),
            # Waiting to be tried again after a refusal: a problem too (a wrong SMTP setting
            # shows here first, long before the attempts run out).
            retrying=Count("id", filter=_OUTBOX_RETRYING),
            last_failed=Max("id", filter=Q(state__in=_OUTBOX_FAILED) | _OUTBOX_RETRYING),
        )
        .order_by()
    }
    alerts = dict(
        Alert.objects.filter(resolved_at__isnull=True, mailbox__isnull=False)
        .values("mailbox_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("mailbox_id", "n")
    )
    processing_errors = dict(
        ProcessingRecord.objects.filter(
            pk__in=[r["last_failed"] for r in processing.values() if r["last_failed"]]
        ).values_list("pk", "error")
    )
    send_errors = dict(
        OutboxMessage.objects.filter(
            pk__in=[r["last_failed"] for r in outbox.values() if r["last_failed"]]
        ).values_list("pk", "last_error")
    )
    now = timezone.now()
    hosts = dict(WatchProcess.objects.values_list("owner", "host"))

    rows: list[MailboxStatusRow] = []
    totals = HealthTotals(mailboxes=len(mailboxes))
    for mailbox in mailboxes:
        own_folders = folders.get(mailbox.pk, [])
        health = mailbox_health(mailbox, own_folders)
        row = MailboxStatusRow(mailbox=mailbox, health=health)
        work = processing.get(mailbox.pk)
        if work:
            row.unprocessed, row.processing_failed = work["pending"], work["failed"]
        sending = outbox.get(mailbox.pk)
        if sending:
            row.outbox_pending, row.outbox_failed = sending["pending"], sending["failed"]
        row.open_alerts = alerts.get(mailbox.pk, 0)
        row.watcher = Watcher(
            owner=mailbox.watch_owner,
            host=hosts.get(mailbox.watch_owner, ""),
            until=mailbox.watch_until,
            live=bool(mailbox.watch_owner and mailbox.watch_until and mailbox.watch_until >= now),
        )
        if health.error:
            where = "Folders" if health.status == NO_FOLDERS else "Connection"
            row.problems.append(Problem(where, health.error))
        row.problems += [
            Problem(f"Folder {f.name}", f.last_error)
            for f in own_folders
            if f.last_error and health.imap_enabled
        ]
        if work and work["last_failed"]:
            error = processing_errors.get(work["last_failed"]) or "no error recorded"
            row.problems.append(Problem("Processing", error))
        if sending and sending["last_failed"]:
            error = send_errors.get(sending["last_failed"]) or "no error recorded"
            if sending["retrying"]:
                waiting = f"{sending['retrying']} repl{'y' if sending['retrying'] == 1 else 'ies'}"
                error = f"{waiting} waiting to be sent again; last refusal: {error}"
            row.problems.append(Problem("Sending", error))
        rows.append(row)
        totals.failing += health.failing
        totals.unprocessed += row.unprocessed
        totals.processing_failed += row.processing_failed
        totals.unfetched += health.backlog if health.imap_enabled else 0
        totals.outbox_pending += row.outbox_pending
        totals.outbox_failed += row.outbox_failed
        totals.open_alerts += row.open_alerts
    rows.sort(key=lambda r: (r.rank, r.mailbox.label.casefold()))
    return HealthOverview(rows=rows, totals=totals, checked_at=now)
