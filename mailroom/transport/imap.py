"""An IMAP session that lists folders and fetches messages by UID, read-only.

Folders are opened with EXAMINE and bodies fetched with ``BODY.PEEK[]``, so syncing never sets
``\\Seen``, never deletes and never moves anything on the server. The one write is
:meth:`ImapSession.append`, which copies a reply mailroom sent into the Sent folder. Every
argument that reaches the server is validated (no CR, LF or NUL) and quoted by IMAPClient;
literals the server announces are capped, so a hostile server cannot make the process
allocate gigabytes. The mail timeout bounds the TCP connect, the TLS handshake, the greeting
and every read, so a server that accepts a connection and then stays silent costs one
timeout, not a stuck worker.
"""

from __future__ import annotations

import imaplib
import logging
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from imapclient import IMAPClient, imap4, tls
from imapclient.exceptions import IMAPClientError, LoginError

from mailroom.transport.errors import (
    AuthFailed,
    BadArgument,
    FolderMissing,
    LiteralTooLarge,
    ProtocolError,
    ServerBusy,
    TlsFailed,
    TransportError,
    classify,
    connect_failed,
    imap_response_kind,
)
from mailroom.transport.fetch_reply import UnexpectedReply, read_bodies, read_metadata
from mailroom.transport.hosts import ResolvedHost, ServerSettings, tls_client_context

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImapSettings(ServerSettings):
    """An IMAP server's settings, with the largest literal the server may send us."""

    max_literal: int = 25 * 1024 * 1024


@dataclass(frozen=True)
class FolderInfo:
    """A folder as LIST reports it."""

    name: str
    delimiter: str
    flags: tuple[str, ...]

    @property
    def selectable(self) -> bool:
        """Whether the folder can hold messages (not a ``\\Noselect`` container)."""
        return not any(f.lower() in {"\\noselect", "\\nonexistent"} for f in self.flags)


@dataclass(frozen=True)
class FolderState:
    """What EXAMINE says about a folder."""

    uidvalidity: int
    uidnext: int
    exists: int


@dataclass(frozen=True)
class FetchedMessage:
    """One message as fetched: its UID, the exact bytes, and the server's metadata."""

    uid: int
    raw: bytes
    size: int
    internal_date: datetime | None
    flags: tuple[str, ...]


def check_imap_argument(value: str, *, what: str) -> str:
    """Refuse a value that could end an IMAP command early and inject another."""
    if any(ch in value for ch in "\r\n\0"):
        raise BadArgument(f"the {what} contains a line break or NUL character", field=what)
    return value


_UID_IN_RESPONSE = re.compile(rb"\bUID (\d+)", re.IGNORECASE)


def _uid_being_read(conn: imaplib.IMAP4) -> int | None:
    """The UID named in the response line whose literal is being read, if it came first.

    imaplib matched that line last (``conn.mo``) just before asking for the literal.
    """
    match = getattr(conn, "mo", None)
    line = match.string if isinstance(match, re.Match) else None
    found = _UID_IN_RESPONSE.search(line) if isinstance(line, bytes) else None
    return int(found.group(1)) if found else None


def _capped_read(conn: imaplib.IMAP4, size: int, max_literal: int) -> bytes:
    if size > max_literal:
        # Refuse before reading a byte: CPython 3.11's imaplib would allocate ``size`` at once
        # (gh-119511), so a hostile "{99999999999}" would exhaust memory.
        raise LiteralTooLarge(
            f"the server announced a {size}-byte message, over the {max_literal}-byte limit",
            size=size,
            limit=max_literal,
            uid=_uid_being_read(conn),
        )
    chunks: list[bytes] = []
    remaining = size
    while remaining > 0:
        chunk = conn.file.read(min(remaining, 1 << 20))
        if isinstance(chunk, str):  # typeshed allows text files; imaplib's is binary
            chunk = chunk.encode()
        if not chunk:
            raise imaplib.IMAP4.abort("connection closed in the middle of a literal")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


# imaplib.IMAP4.__init__ opens the connection with timeout=None and reads the greeting before
# IMAPClient applies its read timeout, so both connection classes ignore the timeout they are
# handed and always use the mail timeout: create_connection leaves it on the socket, where it
# bounds the connect, the TLS handshake, the greeting and (TLS sockets inherit it) STARTTLS.


class _PlainConnection(imap4.IMAP4WithTimeout):  # type: ignore[misc]
    def __init__(self, target: ResolvedHost, timeout: float, max_literal: int) -> None:
        self._target = target
        self._mail_timeout = timeout
        self._max_literal = max_literal
        super().__init__(target.name, target.port, timeout)

    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        address = (self._target.address, self._target.port)
        return socket.create_connection(address, self._mail_timeout)

    def read(self, size: int) -> bytes:
        return _capped_read(self, size, self._max_literal)


class _TlsConnection(tls.IMAP4_TLS):  # type: ignore[misc]
    def __init__(
        self, target: ResolvedHost, context: ssl.SSLContext, timeout: float, max_literal: int
    ) -> None:
        self._target = target
        self._mail_timeout = timeout
        self._max_literal = max_literal
        super().__init__(target.name, target.port, context, timeout)

    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        address = (self._target.address, self._target.port)
        sock = socket.create_connection(address, self._mail_timeout)
        # The certificate is checked against the name the administrator typed.
        context: ssl.SSLContext = self.ssl_context
        return context.wrap_socket(sock, server_hostname=self._target.name)

    def read(self, size: int) -> bytes:
        return _capped_read(self, size, self._max_literal)


class _PinnedClient(IMAPClient):  # type: ignore[misc]
    """IMAPClient that connects to an address checked beforehand."""

    def __init__(self, target: ResolvedHost, settings: ImapSettings) -> None:
        self._target = target
        self._settings = settings
        use_ssl = settings.encryption == "ssl"
        super().__init__(
            target.name,
            port=target.port,
            ssl=use_ssl,
            # No context for "none" or STARTTLS (which brings its own): building one costs.
            ssl_context=tls_client_context() if use_ssl else None,
            timeout=settings.timeout,
        )
        # Keep INTERNALDATE timezone-aware instead of converting it to naive local time.
        self.normalise_times = False

    def _create_IMAP4(self) -> imaplib.IMAP4:
        if self.ssl:
            return _TlsConnection(
                self._target, self.ssl_context, self._settings.timeout, self._settings.max_literal
            )
        return _PlainConnection(self._target, self._settings.timeout, self._settings.max_literal)


@contextmanager
def _translated_errors(stage: str) -> Iterator[None]:
    """Turn library and socket errors into :class:`TransportError` with a human message."""
    try:
        yield
    except TransportError:
        raise
    except ssl.SSLCertVerificationError as exc:
        raise TlsFailed(f"the server's certificate is not valid: {exc.verify_message}") from None
    except ssl.SSLError as exc:
        raise TlsFailed(
            f"TLS handshake failed ({exc.reason or exc}); check the encryption setting"
        ) from None
    except LoginError as exc:
        # IMAPClient raises LoginError for any NO to LOGIN, including "NO [UNAVAILABLE]" and
        # Dovecot's "NO [LIMIT] Maximum number of connections from user+IP exceeded": those
        # say "later", and calling them a wrong password would stop a healthy mailbox.
        if classify(exc).kind == "transient":
            raise ServerBusy(f"the server cannot take the login now: {exc}") from None
        raise AuthFailed("the server refused the user name or password") from None
    except imaplib.IMAP4.abort as exc:
        raise ProtocolError(f"the connection broke ({stage}): {exc}") from None
    except (IMAPClientError, imaplib.IMAP4.error) as exc:
        if imap_response_kind(str(exc)) == "transient":
            raise ServerBusy(f"the server is busy ({stage}): {exc}") from None
        raise ProtocolError(f"the server refused {stage}: {exc}") from None
    except OSError as exc:
        raise connect_failed(exc, stage) from None


class ImapSession:
    """A logged-in, read-only IMAP session. Use as a context manager."""

    def __init__(self, settings: ImapSettings) -> None:
        self._settings = settings
        self._client: _PinnedClient | None = None
        self._selected: tuple[str, FolderState] | None = None

    def __enter__(self) -> Self:
        settings = self._settings
        check_imap_argument(settings.username, what="username")
        check_imap_argument(settings.password, what="password")
        target = settings.resolve()
        with _translated_errors("connecting"):
            client = _PinnedClient(target, settings)
        self._client = client
        try:
            if settings.encryption == "starttls":
                with self._command("reading capabilities"):
                    offered = b"STARTTLS" in client.capabilities()
                if not offered:
                    raise TlsFailed("the server does not offer STARTTLS")
                with self._command("STARTTLS"):
                    client.starttls(tls_client_context())
            with self._command("login"):
                if (settings.username + settings.password).isascii():
                    client.login(settings.username, settings.password)
                else:
                    # LOGIN cannot carry non-ASCII text; AUTHENTICATE PLAIN sends UTF-8.
                    client.plain_login(settings.username, settings.password)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Log out, or drop the connection when logging out fails."""
        client, self._client = self._client, None
        self._selected = None
        if client is None:
            return
        try:
            client.logout()
        except Exception:
            # The connection is already gone; closing the dead socket may fail too.
            with suppress(Exception):
                client.shutdown()

    def interrupt(self) -> None:
        """Wake a thread blocked on this session (in IDLE) by shutting the socket down; it
        then fails at once. Safe to call from another thread."""
        client = self._client
        if client is None:
            return
        with suppress(Exception):
            client.socket().shutdown(socket.SHUT_RDWR)

    def _drop(self) -> None:
        """Close the connection without a word: its stream is at an unknown point."""
        client, self._client = self._client, None
        self._selected = None
        if client is not None:
            with suppress(Exception):
                client.shutdown()

    @contextmanager
    def _command(self, stage: str) -> Iterator[_PinnedClient]:
        """Run one exchange with the server, translating errors.

        After a timeout, a broken connection or a refused literal, the rest of the reply is
        unread; the next command would read it as its own answer, so the connection is
        dropped and later calls fail at once with "the IMAP session is not open".
        """
        client = self.client
        with _translated_errors(stage):
            try:
                yield client
            except (OSError, imaplib.IMAP4.abort, LiteralTooLarge):
                self._drop()
                raise

    @property
    def client(self) -> _PinnedClient:
        """The logged-in IMAPClient; raises :class:`ProtocolError` once the session is closed."""
        if self._client is None:
            raise ProtocolError("the IMAP session is not open")
        return self._client

    def list_folders(self) -> list[FolderInfo]:
        """Every folder on the server, as LIST returns it."""
        with self._command("listing folders") as client:
            rows = client.list_folders()
        folders = []
        for flags, delimiter, name in rows:
            folders.append(
                FolderInfo(
                    name=str(name),
                    delimiter=delimiter.decode() if isinstance(delimiter, bytes) else "",
                    flags=tuple(f.decode() if isinstance(f, bytes) else str(f) for f in flags),
                )
            )
        return folders

    def examine(self, folder: str) -> FolderState:
        """Open ``folder`` read-only and return its UIDVALIDITY, UIDNEXT and size."""
        check_imap_argument(folder, what="folder")
        self._selected = None
        try:
            with self._command(f"opening folder {folder!r}") as client:
                info: dict[bytes, Any] = client.select_folder(folder, readonly=True)
                # What EXAMINE itself reported is in ``info``; from here on an EXISTS in the
                # untagged responses means new mail (see :meth:`announced`).
                self._forget_announcements(client)
        except ProtocolError as exc:
            if classify(exc).kind == "folder_missing" or "doesn't exist" in str(exc):
                raise FolderMissing(f"the folder {folder!r} does not exist on the server") from None
            raise
        state = FolderState(
            uidvalidity=int(info.get(b"UIDVALIDITY", 0)),
            uidnext=int(info.get(b"UIDNEXT", 0)),
            exists=int(info.get(b"EXISTS", 0)),
        )
        self._selected = (folder, state)
        return state

    def opened(self, folder: str) -> FolderState:
        """``folder``'s state, opening it unless this session has it open already.

        A watcher syncs the folder it IDLEs on after every notice; opening it again each time
        costs a round trip and would swallow announcements. UIDVALIDITY cannot change under an
        open folder without the server ending the session, so the state from opening it holds
        (UIDNEXT and EXISTS are then as of that moment).
        """
        if self._selected is not None and self._selected[0] == folder:
            return self._selected[1]
        return self.examine(folder)

    def metadata_after(self, last_uid: int) -> dict[int, tuple[int, datetime | None]]:
        """Size and arrival time of every message above ``last_uid``: the new UIDs and what
        sync needs to know of them, in one round trip (for a few new messages)."""
        data = self._uid_fetch(
            f"{last_uid + 1}:*", "(UID RFC822.SIZE INTERNALDATE)", "reading new messages"
        )
        try:
            found = read_metadata(data)
        except UnexpectedReply:
            return self.metadata(self.uids_after(last_uid))
        # "n:*" always includes the last message, even below n (RFC 3501 §6.4.8).
        return {uid: meta for uid, meta in found.items() if uid > last_uid}

    @staticmethod
    def _forget_announcements(client: _PinnedClient) -> bool:
        untagged: dict[str, list[Any]] = client._imap.untagged_responses
        found = False
        for key in ("EXISTS", "RECENT"):
            found = untagged.pop(key, None) is not None or found
        return found

    def announced(self) -> bool:
        """Whether the server announced new mail (EXISTS, RECENT) in a reply since the folder
        was opened or since the last call; clears the announcement.

        A message that arrives while a sync runs is announced inside that sync's replies, and a
        server does not repeat it when IDLE starts: a watcher asks this before it IDLEs.
        """
        return self._forget_announcements(self.client)

    def uids_after(self, last_uid: int) -> list[int]:
        """UIDs above ``last_uid`` in the open folder, ascending.

        ``n:*`` always includes the last message even when its UID is below n (RFC 3501
        §6.4.8), so the answer is filtered here.
        """
        with self._command("searching for new messages") as client:
            uids = client.search(["UID", f"{last_uid + 1}:*"])
        return sorted(int(u) for u in uids if int(u) > last_uid)

    def _uid_fetch(self, uids: list[int] | str, items: str, stage: str) -> list[object]:
        """Send ``UID FETCH uids items`` (a list, or a set such as ``"5:*"``) through imaplib
        and return its raw reply data."""
        uid_set = uids if isinstance(uids, str) else ",".join(str(u) for u in uids)
        with self._command(stage) as client:
            typ, data = client._imap.uid("FETCH", uid_set, items)
        if typ != "OK":
            raise ProtocolError(f"the server refused {stage}: {data!r}")
        return list(data)

    def metadata(self, uids: list[int]) -> dict[int, tuple[int, datetime | None]]:
        """Size in bytes and arrival time (INTERNALDATE) of each message, before downloading.

        A UID the server does not report (expunged meanwhile) is absent.
        """
        if not uids:
            return {}
        asked = set(uids)
        data = self._uid_fetch(uids, "(UID RFC822.SIZE INTERNALDATE)", "reading message sizes")
        try:
            found = read_metadata(data)
        except UnexpectedReply:
            with self._command("reading message sizes") as client:
                reply = client.fetch(uids, ["RFC822.SIZE", "INTERNALDATE"])
            found = {
                int(uid): (int(item[b"RFC822.SIZE"]), item.get(b"INTERNALDATE"))
                for uid, item in reply.items()
                if b"RFC822.SIZE" in item
            }
        # Unsolicited FETCH responses (flag changes of other messages) are not answers.
        return {uid: value for uid, value in found.items() if uid in asked}

    def sizes(self, uids: list[int]) -> dict[int, int]:
        """The size in bytes of each message, to decide before downloading it.

        A UID the server does not report (expunged meanwhile) is absent.
        """
        return {uid: size for uid, (size, _date) in self.metadata(uids).items()}

    def bodies(self, uids: list[int]) -> dict[int, bytes]:
        """UID → exact bytes of each message asked for (``BODY.PEEK[]``: never sets \\Seen).

        Like :meth:`fetch`, the answer may lack a UID: the caller compares. Raises
        :class:`LiteralTooLarge` (and closes the session) for a body over ``max_literal``.
        """
        if not uids:
            return {}
        asked = set(uids)
        data = self._uid_fetch(uids, "(UID BODY.PEEK[])", "fetching messages")
        try:
            found = read_bodies(data)
        except UnexpectedReply:
            found = {m.uid: m.raw for m in self.fetch(uids)}
        missing = sorted(asked - found.keys())
        if missing:
            logger.info("the IMAP server returned no body for UIDs %s", missing)
        return {uid: raw for uid, raw in found.items() if uid in asked}

    def fetch(self, uids: list[int]) -> list[FetchedMessage]:
        """Download the messages without setting ``\\Seen``, in ascending UID order.

        The result holds only the UIDs the server returned with a body. A UID can be missing
        because it was expunged meanwhile, because the server left it out of its reply, or
        because it answered for it without BODY[]: **the caller must compare the returned
        UIDs with the ones it asked for** and retry each missing one with :meth:`fetch_one`
        before moving past it. Missing UIDs are also logged.

        Raises :class:`LiteralTooLarge` (and closes the session) when the server announces a
        body over ``max_literal``. Its ``uid`` names the message when the server sent the UID
        before the body; otherwise fetching the UIDs one at a time, in a new session, finds it.
        """
        if not uids:
            return []
        with self._command("fetching messages") as client:
            data = client.fetch(uids, ["BODY.PEEK[]", "INTERNALDATE", "FLAGS"])
        asked = set(uids)
        fetched = []
        for uid, item in sorted(data.items()):
            raw = item.get(b"BODY[]")
            # Unsolicited FETCH responses (another message's flags changed) are not answers.
            if raw is None or int(uid) not in asked:
                continue
            fetched.append(
                FetchedMessage(
                    uid=int(uid),
                    raw=bytes(raw),
                    size=len(raw),
                    internal_date=item.get(b"INTERNALDATE"),
                    flags=tuple(
                        f.decode() if isinstance(f, bytes) else str(f)
                        for f in item.get(b"FLAGS", ())
                    ),
                )
            )
        missing = sorted(asked - {message.uid for message in fetched})
        if missing:
            logger.info("the IMAP server returned no body for UIDs %s", missing)
        return fetched

    def fetch_one(self, uid: int) -> FetchedMessage | None:
        """Fetch one message by itself, to retry a UID :meth:`fetch` did not return.

        Returns None when the server still sends no body for it (typically: expunged).
        """
        fetched = self.fetch([uid])
        return fetched[0] if fetched else None

    def append(
        self,
        folder: str,
        raw: bytes,
        *,
        flags: tuple[str, ...] = ("\\Seen",),
        msg_time: datetime | None = None,
    ) -> int | None:
        """APPEND ``raw`` to ``folder`` (a name as LIST returned it) with ``flags``; return the
        new message's UID when the server reports it (UIDPLUS), else None.

        IMAPClient quotes the folder name (and encodes it in modified UTF-7); a name holding a
        line break or NUL is refused before anything is sent.
        """
        check_imap_argument(folder, what="folder")
        for flag in flags:
            check_imap_argument(flag, what="flag")
        self._selected = None
        try:
            with self._command(f"saving a copy in {folder!r}") as client:
                response = client.append(folder, raw, flags=flags, msg_time=msg_time)
        except ProtocolError as exc:
            if classify(exc).kind == "folder_missing" or "doesn't exist" in str(exc):
                raise FolderMissing(f"the folder {folder!r} does not exist on the server") from None
            raise
        found = _APPENDUID.search(response if isinstance(response, bytes) else b"")
        return int(found.group(1)) if found else None

    def holds_message_id(self, folder: str, message_id: str) -> bool:
        """Whether ``folder`` holds a message whose Message-ID header is ``message_id``
        (so that a copy saved by an attempt whose outcome was lost is not saved twice)."""
        check_imap_argument(message_id, what="Message-ID")
        self.examine(folder)
        with self._command(f"searching {folder!r}") as client:
            uids = client.search(["HEADER", "Message-ID", message_id])
        return bool(uids)


_APPENDUID = re.compile(rb"\[APPENDUID \d+ (\d+)\]", re.IGNORECASE)


def special_use_folder(folders: list[FolderInfo], use: str) -> str | None:
    """The name of the first selectable folder LIST marks with the SPECIAL-USE flag ``use``
    (RFC 6154, e.g. ``\\Sent``), or None."""
    for folder in folders:
        if folder.selectable and any(f.lower() == use.lower() for f in folder.flags):
            return folder.name
    return None


class IdleUnsupported(TransportError):
    """The server does not offer IDLE; the caller falls back to polling."""

    permanent = True


def wait_for_change(
    session: ImapSession, *, seconds: float, stop: Callable[[], bool], tick: float = 1.0
) -> bool:
    """IDLE on the open folder for up to ``seconds``; True when new mail was announced.

    Checks ``stop`` every ``tick`` seconds. A caller holding many idle connections uses a long
    tick (a thousand watchers waking every second cost a third of a core) and wakes a waiting
    session at once with :meth:`ImapSession.interrupt` instead.
    """
    client = session.client
    if b"IDLE" not in client.capabilities():
        raise IdleUnsupported("the server does not support IDLE")
    deadline = time.monotonic() + seconds
    changed = False
    with _translated_errors("waiting for new mail"):
        client.idle()
        try:
            while not changed and not stop() and time.monotonic() < deadline:
                left = max(0.0, deadline - time.monotonic())
                for response in client.idle_check(timeout=min(tick, left)):
                    if len(response) > 1 and response[1] in (b"EXISTS", b"RECENT"):
                        changed = True
        finally:
            client.idle_done()
    return changed
