"""An IMAP session that lists folders and fetches messages by UID, read-only.

Folders are opened with EXAMINE and bodies fetched with ``BODY.PEEK[]``, so syncing never sets
``\\Seen``, never deletes and never moves anything on the server. Every argument that reaches the
server is validated (no CR, LF or NUL) and quoted by IMAPClient; literals the server announces
are capped, so a hostile server cannot make the process allocate gigabytes.
"""

from __future__ import annotations

import imaplib
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
    ProtocolError,
    TlsFailed,
    TransportError,
    connect_failed,
)
from mailroom.transport.hosts import ResolvedHost, ServerSettings


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


def _capped_read(conn: imaplib.IMAP4, size: int, max_literal: int) -> bytes:
    if size > max_literal:
        raise imaplib.IMAP4.abort(f"server announced a {size}-byte literal, over the limit")
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


class _PlainConnection(imap4.IMAP4WithTimeout):  # type: ignore[misc]
    def __init__(self, target: ResolvedHost, timeout: float, max_literal: int) -> None:
        self._target = target
        self._max_literal = max_literal
        super().__init__(target.name, target.port, timeout)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        return socket.create_connection((self._target.address, self._target.port), timeout)

    def read(self, size: int) -> bytes:
        return _capped_read(self, size, self._max_literal)


class _TlsConnection(tls.IMAP4_TLS):  # type: ignore[misc]
    def __init__(
        self, target: ResolvedHost, context: ssl.SSLContext, timeout: float, max_literal: int
    ) -> None:
        self._target = target
        self._max_literal = max_literal
        super().__init__(target.name, target.port, context, timeout)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        sock = socket.create_connection((self._target.address, self._target.port), timeout)
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
        super().__init__(
            target.name,
            port=target.port,
            ssl=settings.encryption == "ssl",
            ssl_context=ssl.create_default_context(),
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
    except LoginError:
        raise AuthFailed("the server refused the user name or password") from None
    except imaplib.IMAP4.abort as exc:
        raise ProtocolError(f"the connection broke ({stage}): {exc}") from None
    except (IMAPClientError, imaplib.IMAP4.error) as exc:
        raise ProtocolError(f"the server refused {stage}: {exc}") from None
    except OSError as exc:
        raise connect_failed(exc, stage) from None


class ImapSession:
    """A logged-in, read-only IMAP session. Use as a context manager."""

    def __init__(self, settings: ImapSettings) -> None:
        self._settings = settings
        self._client: _PinnedClient | None = None

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
                with _translated_errors("reading capabilities"):
                    offered = b"STARTTLS" in client.capabilities()
                if not offered:
                    raise TlsFailed("the server does not offer STARTTLS")
                with _translated_errors("STARTTLS"):
                    client.starttls(ssl.create_default_context())
            with _translated_errors("login"):
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
        if client is None:
            return
        try:
            client.logout()
        except Exception:
            # The connection is already gone; closing the dead socket may fail too.
            with suppress(Exception):
                client.shutdown()

    @property
    def client(self) -> _PinnedClient:
        if self._client is None:
            raise ProtocolError("the IMAP session is not open")
        return self._client

    def list_folders(self) -> list[FolderInfo]:
        """Every folder on the server, as LIST returns it."""
        with _translated_errors("listing folders"):
            rows = self.client.list_folders()
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
        try:
            with _translated_errors(f"opening folder {folder!r}"):
                info: dict[bytes, Any] = self.client.select_folder(folder, readonly=True)
        except ProtocolError as exc:
            if "NONEXISTENT" in str(exc).upper() or "doesn't exist" in str(exc):
                raise FolderMissing(f"the folder {folder!r} does not exist on the server") from None
            raise
        return FolderState(
            uidvalidity=int(info.get(b"UIDVALIDITY", 0)),
            uidnext=int(info.get(b"UIDNEXT", 0)),
            exists=int(info.get(b"EXISTS", 0)),
        )

    def uids_after(self, last_uid: int) -> list[int]:
        """UIDs above ``last_uid`` in the open folder, ascending.

        ``n:*`` always includes the last message even when its UID is below n (RFC 3501
        §6.4.8), so the answer is filtered here.
        """
        with _translated_errors("searching for new messages"):
            uids = self.client.search(["UID", f"{last_uid + 1}:*"])
        return sorted(int(u) for u in uids if int(u) > last_uid)

    def sizes(self, uids: list[int]) -> dict[int, int]:
        """The size in bytes of each message, to decide before downloading it."""
        if not uids:
            return {}
        with _translated_errors("reading message sizes"):
            data = self.client.fetch(uids, ["RFC822.SIZE"])
        return {int(uid): int(item[b"RFC822.SIZE"]) for uid, item in data.items()}

    def fetch(self, uids: list[int]) -> list[FetchedMessage]:
        """Download the messages without setting ``\\Seen``; a UID expunged meanwhile is absent."""
        if not uids:
            return []
        with _translated_errors("fetching messages"):
            data = self.client.fetch(uids, ["BODY.PEEK[]", "INTERNALDATE", "FLAGS"])
        fetched = []
        for uid, item in sorted(data.items()):
            raw = item.get(b"BODY[]")
            if raw is None:
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
        return fetched


class IdleUnsupported(TransportError):
    """The server does not offer IDLE; the caller falls back to polling."""

    permanent = True


def wait_for_change(session: ImapSession, *, seconds: float, stop: Callable[[], bool]) -> bool:
    """IDLE on the open folder for up to ``seconds``; True when new mail was announced.

    Checks ``stop`` every second so a shutdown does not wait for the server.
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
                for response in client.idle_check(timeout=1):
                    if len(response) > 1 and response[1] in (b"EXISTS", b"RECENT"):
                        changed = True
        finally:
            client.idle_done()
    return changed
