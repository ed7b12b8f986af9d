"""Errors of the transport layer, each naming the form field it concerns and whether it lasts.

``field`` is the mailbox setting to look at (``host``, ``port``, ``encryption``, ``username``,
``password``, ``folder``) so the UI can show the message next to it; ``permanent`` says whether
trying again without a configuration change can help. :func:`classify` is the one place that
decides what any failure (ours, imaplib's, smtplib's or a socket's) means for the caller.
"""

from __future__ import annotations

import imaplib
import re
import smtplib
import socket
import ssl
from dataclasses import dataclass
from typing import Literal

from imapclient.exceptions import LoginError


class TransportError(Exception):
    """A mail server could not be reached or refused what was asked."""

    field: str | None = None
    permanent: bool = False

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        if field is not None:
            self.field = field


class HostNotAllowed(TransportError):
    """The host or port is internal or not allowed; nothing was sent to it."""

    field = "host"
    permanent = True


class BadArgument(TransportError):
    """A value meant for the server (folder name, user name) contains forbidden characters."""

    permanent = True


class ConnectFailed(TransportError):
    """The server's name did not resolve, or the connection was refused or timed out."""

    field = "host"


class TlsFailed(TransportError):
    """The TLS handshake failed, the certificate is not valid, or STARTTLS is not offered."""

    field = "encryption"
    permanent = True


class AuthFailed(TransportError):
    """The server refused the user name or password."""

    field = "password"
    permanent = True


class FolderMissing(TransportError):
    """The folder does not exist (any more) on the server."""

    field = "folder"
    permanent = True


class ProtocolError(TransportError):
    """The server answered something unexpected, or the connection broke mid-command."""


class ServerBusy(TransportError):
    """The server refused for now (RFC 5530 ``UNAVAILABLE``, ``INUSE``, ``LIMIT``,
    ``SERVERBUG``, or a connection limit such as Dovecot's per user and IP): try again later.

    Never an authentication failure: treating "Maximum number of connections from user+IP
    exceeded" as a wrong password would stop a healthy mailbox.
    """


class LiteralTooLarge(TransportError):
    """The server announced a literal larger than the limit, so it was not read.

    ``size`` is the announced size in bytes, ``limit`` the largest accepted, ``uid`` the
    message's UID when the response named it before the literal. The connection is closed
    (the unread bytes make it unusable); the caller can open a new session and fetch the
    other UIDs one at a time, storing a placeholder for the offender.
    """

    def __init__(self, message: str, *, size: int, limit: int, uid: int | None = None) -> None:
        super().__init__(message, field=None)
        self.size = size
        self.limit = limit
        self.uid = uid


class SendRefused(TransportError):
    """The SMTP server refused the message (or a recipient).

    ``code`` is the SMTP reply code; 4xx is temporary, 5xx permanent.
    """

    def __init__(self, message: str, *, code: int) -> None:
        super().__init__(message, field=None)
        self.code = code
        self.permanent = code >= 500


class SendAmbiguous(TransportError):
    """The connection broke after the message data was handed over and before the server's
    answer: the message may or may not have been accepted, so it must not be sent again."""

    permanent = True


def connect_failed(exc: OSError, stage: str) -> ConnectFailed:
    """A human description of a socket error met while ``stage`` (e.g. "connecting")."""
    if isinstance(exc, TimeoutError):
        return ConnectFailed(f"the server did not answer in time ({stage})")
    if isinstance(exc, ConnectionRefusedError):
        return ConnectFailed("the server refused the connection; check host and port")
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return ConnectFailed(f"the server closed the connection ({stage})")
    return ConnectFailed(f"cannot connect to the server ({stage}): {exc.strerror or exc}")


# What a caller does about a failure; see Failure.
FailureKind = Literal["auth", "transient", "folder_missing", "permanent"]


@dataclass(frozen=True)
class Failure:
    """What a failure means for the caller, and a sentence to show an administrator.

    ``auth``: the credentials were refused; stop and ask for new ones (retrying risks a
    lockout). ``transient``: try again later with backoff. ``folder_missing``: the folder is
    gone; skip it. ``permanent``: retrying without a configuration change cannot help.
    """

    kind: FailureKind
    reason: str


# RFC 5530 response codes, as the bracketed first word of a tagged NO.
_AUTH_CODES = frozenset(
    {"AUTHENTICATIONFAILED", "AUTHORIZATIONFAILED", "EXPIRED", "PRIVACYREQUIRED"}
)
_TRANSIENT_CODES = frozenset({"UNAVAILABLE", "INUSE", "SERVERBUG", "LIMIT"})
_FOLDER_CODES = frozenset({"NONEXISTENT"})
_RESPONSE_CODE = re.compile(r"\[([A-Za-z][A-Za-z0-9.-]*)[\] ]")
# Texts servers send without a response code when they are overloaded or going away
# (Dovecot's connection limit, its BYE at shutdown).
_TRANSIENT_TEXTS = (
    "maximum number of connections",
    "too many connections",
    "server shutting down",
    "try again later",
)


def imap_response_kind(text: str) -> FailureKind | None:
    """The kind an IMAP server's answer in ``text`` stands for, or None when it says nothing.

    Looks for an RFC 5530 response code (``[UNAVAILABLE]``, ``[AUTHENTICATIONFAILED]``, ...)
    and for the texts servers send without one (Dovecot's connection limit, its shutdown BYE).
    """
    codes = {code.upper() for code in _RESPONSE_CODE.findall(text)}
    if codes & _TRANSIENT_CODES:
        return "transient"
    if codes & _AUTH_CODES:
        return "auth"
    if codes & _FOLDER_CODES:
        return "folder_missing"
    lowered = text.lower()
    if any(marker in lowered for marker in _TRANSIENT_TEXTS):
        return "transient"
    return None


def _one_line(text: str) -> str:
    # A server's text is stored as the reason (PostgreSQL text refuses NUL; threats.md F11).
    return " ".join(text.split()).replace("\x00", "\ufffd")


def _smtp_text(message: bytes | str) -> str:
    return message.decode(errors="replace") if isinstance(message, bytes) else message


def _smtp_kind(code: int) -> FailureKind:
    # RFC 5321 §4.2.1: 4yz is a temporary failure, 5yz a permanent one.
    return "transient" if 400 <= code < 500 else "permanent"


def classify(exc: BaseException) -> Failure:
    """Decide what ``exc`` means: ``auth``, ``transient``, ``folder_missing`` or ``permanent``.

    Accepts this module's errors as well as the raw imaplib, IMAPClient, smtplib, ssl and
    socket errors they are made from (threats.md §5). Anything unrecognised is a bug on our
    side and ``permanent``: retrying it would only repeat it.
    """
    kind, reason = _classify(exc)
    return Failure(kind=kind, reason=_one_line(reason) or type(exc).__name__)


def _classify(exc: BaseException) -> tuple[FailureKind, str]:
    text = str(exc)
    if isinstance(exc, TransportError):
        return _classify_transport(exc), text
    if isinstance(exc, LoginError):
        # IMAPClient turns any failure during LOGIN into LoginError, even a BYE or a broken
        # connection: only a refusal of the credentials themselves is an auth failure.
        if isinstance(exc.__context__, imaplib.IMAP4.abort):
            return "transient", f"the server closed the connection at login: {text}"
        kind = imap_response_kind(text)
        if kind in (None, "auth"):
            return "auth", f"the server refused the user name or password: {text}"
        return "transient" if kind == "transient" else "permanent", text
    if isinstance(exc, imaplib.IMAP4.abort):
        # The connection broke or the server said BYE: the server is restarting or overloaded.
        return "transient", f"the IMAP connection broke: {text}"
    if isinstance(exc, imaplib.IMAP4.error):
        # An IMAP refusal without a known code says nothing lasting; retry with backoff.
        return imap_response_kind(text) or "transient", f"the IMAP server refused: {text}"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        reply = _smtp_text(exc.smtp_error)
        if exc.smtp_code >= 500:
            return "auth", f"the SMTP server refused the login: {exc.smtp_code} {reply}"
        return "transient", f"the SMTP server cannot check the login now: {exc.smtp_code} {reply}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        kind = "permanent" if codes and all(code >= 500 for code in codes) else "transient"
        refused = ", ".join(f"{rcpt} ({code})" for rcpt, (code, _) in exc.recipients.items())
        return kind, f"the SMTP server refused the recipients {refused}"
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = _smtp_text(exc.smtp_error)
        return _smtp_kind(exc.smtp_code), f"the SMTP server refused: {exc.smtp_code} {reply}"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "transient", f"the SMTP server closed the connection: {text}"
    if isinstance(exc, smtplib.SMTPException):
        # Not a reply from the server: a missing feature such as no usable AUTH mechanism.
        return "permanent", f"the SMTP server cannot be used: {text}"
    # ssl's errors are OSErrors: judge them before the network ones.
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "permanent", f"the server's certificate is not valid: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        # ``reason`` is set by the ssl module itself, not on errors made by hand.
        return "permanent", f"TLS handshake failed ({getattr(exc, 'reason', None) or text})"
    if isinstance(exc, socket.gaierror):
        return "transient", f"the server's name does not resolve ({exc.strerror or text})"
    if isinstance(exc, OSError):
        return "transient", str(connect_failed(exc, "talking to the server"))
    return "permanent", f"unexpected error: {type(exc).__name__}: {text}"


def _classify_transport(exc: TransportError) -> FailureKind:
    if isinstance(exc, AuthFailed):
        return "auth"
    if isinstance(exc, FolderMissing):
        return "folder_missing"
    if isinstance(exc, SendRefused):
        return _smtp_kind(exc.code)
    if isinstance(exc, ServerBusy | ConnectFailed | LiteralTooLarge):
        return "transient"
    if isinstance(exc, ProtocolError):
        # It may carry the server's own response code ("... [UNAVAILABLE] ...").
        return imap_response_kind(str(exc)) or "transient"
    return "permanent" if exc.permanent else "transient"
