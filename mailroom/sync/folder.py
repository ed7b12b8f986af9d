"""Sync one folder: fetch every message above the folder's cursor, in chunks, and store it.

The folder is held by a lease with an owner token (see :mod:`mailroom.leases`), renewed after
every chunk and every third of its time while the sync works; each chunk is stored in one
transaction fenced by that token, so two syncs of one folder never both write, and a killed
sync holds the folder only until its lease runs out.

What is new on the server is decided by UID only (``UID SEARCH UID n:*``, filtered to ``> n``),
never by flags: someone reading the shared mailbox in webmail hides nothing from mailroom.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Max, Q
from django.utils import timezone

from mailroom import conf
from mailroom.alerts import raise_alert, resolve_alert
from mailroom.leases import LeaseField, LeaseKeeper, new_owner
from mailroom.models import Folder, HistoryMode, Mailbox, Message
from mailroom.store.incoming import (
    MISSING,
    TOO_LARGE,
    ChunkResult,
    Fetched,
    LeaseLost,
    store_chunk,
)
from mailroom.transport.errors import LiteralTooLarge
from mailroom.transport.imap import ImapSession

logger = logging.getLogger(__name__)

FOLDER_LEASE = LeaseField(Folder)

# INTERNALDATE has one-second precision and the server's clock is not ours: mail that arrived
# this close before the cut-off still counts as new (imported, answered), never lost as history.
CLOCK_MARGIN = timedelta(minutes=2)

# The most message bytes one UID FETCH brings into memory.
FETCH_BYTES = 32 * 1024 * 1024


def next_poll() -> datetime:
    """When a folder synced (or tried) now is next due for its safety poll."""
    return timezone.now() + timedelta(seconds=conf.POLL_SECONDS)


def lease_ttl() -> timedelta:
    """How long a sync lease lasts without renewal."""
    return timedelta(seconds=conf.LEASE_SECONDS)


@dataclass
class FolderReport:
    """What one sync of a folder did."""

    folder: str
    stored: int = 0
    too_large: int = 0
    missing: int = 0
    copies: int = 0
    skipped: bool = False


# Called after each stored chunk with (folder id, stored so far, still to fetch).
Progress = Callable[[int, int, int], None]
# Called after each committed chunk with the ids of the rows whose pipeline must run.
Stored = Callable[[list[int]], None]


def _by_volume(uids: list[int], sizes: dict[int, int]) -> list[list[int]]:
    """Split ``uids`` so that no download holds more than FETCH_BYTES in memory at once."""
    chunks: list[list[int]] = [[]]
    volume = 0
    for uid in uids:
        size = sizes.get(uid, 0)
        if chunks[-1] and volume + size > FETCH_BYTES:
            chunks.append([])
            volume = 0
        chunks[-1].append(uid)
        volume += size
    return chunks


def _import_from(mailbox: Mailbox) -> datetime | None:
    """Mail that arrived before this moment is not imported at all (None: import everything)."""
    started = mailbox.account_started_at
    if started is None or mailbox.history_mode == HistoryMode.ALL:
        return None
    if mailbox.history_mode == HistoryMode.DAYS:
        return started - timedelta(days=mailbox.history_days or 0)
    return started


def _baseline(folder: Folder, owner: str, uidvalidity: int) -> None:
    """Set the cursor of a folder seen for the first time, or renumbered by the server."""
    mailbox = folder.mailbox
    changes: dict[str, object] = {"uidvalidity": uidvalidity, "last_uid": 0}
    if folder.account_version != mailbox.account_version or folder.uidvalidity is None:
        # A new folder, or one of a new account: what is on the server now is history.
        changes["account_version"] = mailbox.account_version
        changes["history_before"] = mailbox.account_started_at or timezone.now()
        changes["imported"] = 0
    else:
        # UIDVALIDITY changed: the server renumbered the folder. Start over; stored mail is
        # matched again by content. Of the rest, mail older than the newest stored from this
        # folder is history; newer mail arrived since and nobody saw it: it is new (sync.md
        # §3.3), even if it came while mailroom was away.
        newest = Message.objects.filter(Q(folder=folder.pk) | Q(copies__folder=folder.pk))
        changes["history_before"] = (
            newest.aggregate(newest=Max("internal_date"))["newest"]
            or folder.last_synced_at
            or timezone.now()
        )
        raise_alert(
            mailbox.pk,
            f"uidvalidity:{folder.name}",
            f"The server renumbered the folder {folder.name!r} (UIDVALIDITY "
            f"{folder.uidvalidity} → {uidvalidity}). Mail already stored was matched again by "
            "content; none of it was processed or answered twice.",
        )
    if Folder.objects.filter(FOLDER_LEASE.held_by(owner), pk=folder.pk).update(**changes) != 1:
        raise LeaseLost(f"folder {folder.pk}: the sync lease was lost")
    for name, value in changes.items():
        setattr(folder, name, value)


# Size in bytes and arrival time of a message on the server, by UID.
Meta = tuple[int, datetime | None]


@dataclass
class _Gathered:
    """One downloaded chunk, ready to store: its items and where the cursor goes after it."""

    items: list[Fetched]
    cursor: int
    left: int


class _Syncer:
    def __init__(
        self,
        session: ImapSession,
        folder: Folder,
        owner: str,
        on_stored: Stored | None,
        progress: Progress | None,
        reopen: Callable[[], ImapSession] | None,
    ) -> None:
        self.session = session
        self.reopen = reopen
        self.folder = folder
        self.owner = owner
        self.on_stored = on_stored
        self.progress = progress
        self.report = FolderReport(folder=folder.name)
        self.import_from = _import_from(folder.mailbox)
        self.deadline = time.monotonic() + conf.SYNC_TASK_SECONDS

    def run(self) -> FolderReport:
        folder = self.folder
        state = self.session.opened(folder.name)
        if (
            folder.uidvalidity != state.uidvalidity
            or folder.account_version != folder.mailbox.account_version
        ):
            _baseline(folder, self.owner, state.uidvalidity)
        if state.uidnext - folder.last_uid <= conf.FETCH_BATCH:
            # A few new messages (every push): list them with their sizes in one request.
            known = self.session.metadata_after(folder.last_uid)
            for gathered in self._gathered(sorted(known), known):
                self._store(state.uidvalidity, gathered)
            return self.report
        uids = self.session.uids_after(folder.last_uid)
        if len(uids) <= conf.FETCH_BATCH:
            for gathered in self._gathered(uids):
                self._store(state.uidvalidity, gathered)
        else:
            self._pipelined(state.uidvalidity, uids)
        return self.report

    def _gathered(
        self, uids: list[int], known: dict[int, Meta] | None = None
    ) -> Iterator[_Gathered]:
        """Download ``uids`` chunk by chunk (IMAP only, no database); ``known`` is their
        metadata when it was read already."""
        position = {uid: index for index, uid in enumerate(uids)}
        for start in range(0, len(uids), conf.FETCH_BATCH):
            if time.monotonic() > self.deadline:
                logger.warning("folder %s: sync ran out of time; resumes next time", self.folder.pk)
                return
            batch = uids[start : start + conf.FETCH_BATCH]
            meta = known if known is not None else self.session.metadata(batch)
            sizes = {uid: size for uid, (size, _date) in meta.items()}
            for chunk in _by_volume(batch, sizes):
                left = len(uids) - position[chunk[-1]] - 1
                yield _Gathered(self._gather(chunk, meta), cursor=chunk[-1], left=left)

    def _pipelined(self, uidvalidity: int, uids: list[int]) -> None:
        """A large import: the next chunk downloads while this one is parsed and stored.

        The download thread alone uses the IMAP session and never the database; this thread
        alone stores. Socket reads release the GIL, so the two overlap.
        """
        ready: queue.Queue[_Gathered | BaseException | None] = queue.Queue(maxsize=2)
        stop = threading.Event()

        def download() -> None:
            try:
                for gathered in self._gathered(uids):
                    while not stop.is_set():
                        with contextlib.suppress(queue.Full):
                            ready.put(gathered, timeout=0.5)
                            break
                    if stop.is_set():
                        return
                ready.put(None)
            except BaseException as exc:  # handed to the storing thread, which raises it
                ready.put(exc)

        downloader = threading.Thread(target=download, name="mailroom-download", daemon=True)
        downloader.start()
        try:
            while (item := ready.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                self._store(uidvalidity, item)
        finally:
            stop.set()
            while downloader.is_alive():
                with contextlib.suppress(queue.Empty):
                    ready.get(timeout=0.1)
            downloader.join()

    def _history(self, arrived: datetime | None) -> tuple[bool, bool]:
        """(store it, as history) for a message that arrived on the server at ``arrived``."""
        before = self.folder.history_before
        if arrived is None or before is None or arrived >= before - CLOCK_MARGIN:
            return True, False
        if self.import_from is not None and arrived < self.import_from - CLOCK_MARGIN:
            return False, True
        return True, True

    def _download(self, wanted: list[int], sizes: dict[int, int]) -> dict[int, bytes]:
        """Fetch ``wanted``; a message bigger than the server said is left on the server.

        A literal over the limit breaks the connection (its bytes are never read), so the
        chunk is fetched again one message at a time on fresh connections, and the ones still
        too large get a placeholder.
        """
        try:
            return self.session.bodies(wanted)
        except LiteralTooLarge as exc:
            if self.reopen is None:
                raise
            logger.warning("folder %s: %s; fetching one by one", self.folder.pk, exc)
        fetched: dict[int, bytes] = {}
        for uid in wanted:
            self.session = self.reopen()
            self.session.examine(self.folder.name)
            try:
                message = self.session.fetch_one(uid)
            except LiteralTooLarge as exc:
                sizes[uid] = max(exc.size, conf.MAX_MESSAGE_BYTES + 1)
                continue
            if message is not None:
                fetched[uid] = message.raw
        self.session = self.reopen()
        self.session.examine(self.folder.name)
        return fetched

    def _gather(
        self, chunk: list[int], meta: dict[int, tuple[int, datetime | None]]
    ) -> list[Fetched]:
        """What to store for ``chunk``: the bytes, or a placeholder saying why there are none."""
        limit = conf.MAX_MESSAGE_BYTES
        sizes = {uid: meta[uid][0] for uid in chunk if uid in meta}
        decisions = {uid: self._history(meta[uid][1]) for uid in sizes}
        # Mail from before the import cut-off is not even downloaded.
        wanted = [uid for uid, size in sizes.items() if size <= limit and decisions[uid][0]]
        fetched = self._download(wanted, sizes)
        items: list[Fetched] = []
        for uid in chunk:
            if uid not in sizes:
                continue  # expunged before we asked for its size
            keep, history = decisions[uid]
            if not keep:
                continue
            arrived = meta[uid][1]
            if sizes[uid] > limit:
                items.append(
                    Fetched(uid, None, arrived, sizes[uid], placeholder=TOO_LARGE, history=history)
                )
                self.report.too_large += 1
                continue
            raw = fetched.get(uid)
            if raw is None:
                raw = self._refetch(uid)
            if raw is None:
                if uid in self.session.uids_after(uid - 1):
                    items.append(Fetched(uid, None, arrived, sizes[uid], placeholder=MISSING))
                    self.report.missing += 1
                else:
                    logger.info("folder %s: UID %s was expunged meanwhile", self.folder.pk, uid)
                continue
            items.append(Fetched(uid, raw, arrived, len(raw), history=history))
        return items

    def _store(self, uidvalidity: int, gathered: _Gathered) -> None:
        result = store_chunk(
            self.folder,
            owner=self.owner,
            uidvalidity=uidvalidity,
            items=gathered.items,
            cursor=gathered.cursor,
            backlog=gathered.left,
            lease_ttl=lease_ttl(),
        )
        self.report.stored += len(result.stored)
        self.report.copies += result.copies
        self._alert(result)
        if self.on_stored and result.to_process:
            self.on_stored(result.to_process)
        if self.progress:
            self.progress(self.folder.pk, self.report.stored, gathered.left)

    def _alert(self, result: ChunkResult) -> None:
        """Tell an administrator once per folder about mail that needs a human look."""
        folder, box = self.folder, self.folder.mailbox
        if result.too_large:
            raise_alert(
                box.pk,
                f"too_large:{folder.name}",
                f"{box.label}: messages over the download limit (MAILROOM_MAX_MESSAGE_BYTES) in "
                f"{folder.name!r} were left on the server, first UID {result.too_large[0]}; "
                "each is listed with a placeholder.",
            )
        if result.unparsable:
            raise_alert(
                box.pk,
                f"unparsable:{folder.name}",
                f"{box.label}: mail in {folder.name!r} could not be parsed (first UID "
                f"{result.unparsable[0]}); it is stored raw and flagged, nothing was lost.",
            )

    def _refetch(self, uid: int) -> bytes | None:
        """A UID the server left out of a FETCH reply is asked for again, alone."""
        logger.info("folder %s: UID %s left out of a FETCH reply", self.folder.pk, uid)
        message = self.session.fetch_one(uid)
        return None if message is None else message.raw


def sync_folder(
    folder_id: int,
    session: ImapSession,
    *,
    on_stored: Stored | None = None,
    progress: Progress | None = None,
    reopen: Callable[[], ImapSession] | None = None,
) -> FolderReport:
    """Store every message of the folder above its cursor, over ``session``.

    ``reopen`` gives a new session when the current one had to be dropped (a message larger
    than announced). Returns a report with ``skipped`` set when another sync holds the folder.
    """
    owner = new_owner()
    if not FOLDER_LEASE.claim(folder_id, owner, lease_ttl()):
        folder_name = Folder.objects.filter(pk=folder_id).values_list("name", flat=True).first()
        return FolderReport(folder=folder_name or "", skipped=True)
    try:
        folder = Folder.objects.select_related("mailbox").get(pk=folder_id)
        with LeaseKeeper(FOLDER_LEASE, folder_id, owner, lease_ttl()):
            report = _Syncer(session, folder, owner, on_stored, progress, reopen).run()
    except BaseException:
        FOLDER_LEASE.release(folder_id, owner)
        raise
    # Released in the same UPDATE that records the success and schedules the safety poll.
    now = timezone.now()
    FOLDER_LEASE.release(
        folder_id,
        owner,
        missing=False,
        last_error="",
        last_synced_at=now,
        next_poll_at=next_poll(),
    )
    if folder.missing:
        # Back on the server (recreated): its "gone from the server" alert no longer holds.
        resolve_alert(folder.mailbox_id, f"missing:{folder.name}")
    return report
