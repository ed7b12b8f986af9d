"""How a mailbox is doing, as the mailbox page, the list and the progress endpoint show it.

Everything here is read-only and ready to display: counts are formatted ("12,000 to go") and
dates are rendered the way the templates render them, so the page and the JSON it polls agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import formats, timezone

from mailroom.models import Folder, HistoryMode, Mailbox, MailboxStatus

# Shown under the status when the engine left no detail of its own.
_DEFAULT_DETAIL = {
    MailboxStatus.NEW: "Mail is fetched within seconds of saving; this page updates by itself.",
    MailboxStatus.DISABLED: "IMAP is switched off in this mailbox's settings: no mail is fetched.",
}

_FAILING = frozenset({MailboxStatus.AUTH_ERROR, MailboxStatus.DEGRADED, MailboxStatus.ERROR})


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


def mailbox_health(mailbox: Mailbox, folders: list[Folder] | None = None) -> MailboxHealth:
    """The health of ``mailbox`` (with its connection loaded) and of its selected folders."""
    if folders is None:
        folders = list(mailbox.folders.filter(selected=True).order_by("name"))
    status, detail = _status(mailbox)
    return MailboxHealth(
        status=status,
        label=MailboxStatus(status).label,
        detail=detail,
        last_synced_at=mailbox.last_synced_at,
        retry_at=mailbox.retry_at,
        failing_since=mailbox.failing_since,
        imap_enabled=mailbox.connection.imap_enabled,
        auth_stopped=_auth_stopped(mailbox),
        folders=[_folder(f, mailbox.account_version) for f in folders],
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
