"""The one classification of transport failures (threats.md §5), as a table."""

from __future__ import annotations

import imaplib
import smtplib
import socket
import ssl

import pytest
from imapclient.exceptions import IMAPClientError, LoginError

from mailroom.transport.errors import (
    AuthFailed,
    BadArgument,
    ConnectFailed,
    Failure,
    FolderMissing,
    HostNotAllowed,
    LiteralTooLarge,
    ProtocolError,
    SendAmbiguous,
    SendRefused,
    ServerBusy,
    TlsFailed,
    classify,
)


def _login_error_from_bye(text: str) -> LoginError:
    """What IMAPClient raises when the server says BYE instead of answering LOGIN."""
    try:
        try:
            raise imaplib.IMAP4.abort(text)
        except IMAPClientError as exc:
            raise LoginError(str(exc)) from None
    except LoginError as login_error:
        # ``from None`` hides the context from tracebacks but keeps it on the exception.
        return login_error


def _cert_error() -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(1, "certificate verify failed")
    error.verify_message = "self-signed certificate"
    return error


CASES: list[tuple[str, BaseException, str]] = [
    # IMAP logins: the exact texts Dovecot 2.3 sends, as IMAPClient wraps them.
    (
        "dovecot wrong password",
        LoginError("login failed: [AUTHENTICATIONFAILED] Authentication failed."),
        "auth",
    ),
    (
        "AUTHENTICATE PLAIN refused",
        LoginError("b'[AUTHENTICATIONFAILED] Authentication failed.'"),
        "auth",
    ),
    ("authorization", LoginError("login failed: [AUTHORIZATIONFAILED] not allowed"), "auth"),
    ("expired", LoginError("login failed: [EXPIRED] password expired"), "auth"),
    ("privacy", LoginError("login failed: [PRIVACYREQUIRED] use TLS"), "auth"),
    ("LOGIN refused without a code", LoginError("login failed: Invalid credentials"), "auth"),
    (
        "dovecot connection limit",
        LoginError(
            "login failed: [LIMIT] Maximum number of connections from user+IP exceeded "
            "(mail_max_userip_connections=10)"
        ),
        "transient",
    ),
    (
        "limit text without code",
        LoginError("login failed: Maximum number of connections from user+IP exceeded"),
        "transient",
    ),
    (
        "unavailable",
        LoginError("login failed: [UNAVAILABLE] Temporary authentication failure."),
        "transient",
    ),
    ("in use", LoginError("login failed: [INUSE] mailbox locked"), "transient"),
    ("server bug", LoginError("login failed: [SERVERBUG] Internal error"), "transient"),
    ("BYE to LOGIN", _login_error_from_bye("Server shutting down."), "transient"),
    ("auth failed", AuthFailed("the server refused the user name or password"), "auth"),
    # IMAP after login.
    (
        "nonexistent folder",
        IMAPClientError("select failed: [NONEXISTENT] Mailbox doesn't exist: Nope"),
        "folder_missing",
    ),
    ("folder missing", FolderMissing("the folder 'Nope' does not exist"), "folder_missing"),
    ("busy folder", IMAPClientError("select failed: [INUSE] locked"), "transient"),
    ("bye", imaplib.IMAP4.abort("Server shutting down."), "transient"),
    ("eof", imaplib.IMAP4.abort("socket error: EOF"), "transient"),
    (
        "wrapped unavailable",
        ProtocolError("the server refused fetching: [UNAVAILABLE] try later"),
        "transient",
    ),
    ("broken mid-command", ProtocolError("the connection broke"), "transient"),
    ("server busy", ServerBusy("busy"), "transient"),
    ("literal too large", LiteralTooLarge("big", size=10**11, limit=10), "transient"),
    # Network.
    ("timeout", TimeoutError("timed out"), "transient"),
    (
        "ssl handshake timeout",
        TimeoutError("_ssl.c:980: The handshake operation timed out"),
        "transient",
    ),
    ("refused", ConnectionRefusedError(111, "Connection refused"), "transient"),
    ("reset", ConnectionResetError(104, "Connection reset by peer"), "transient"),
    ("broken pipe", BrokenPipeError(32, "Broken pipe"), "transient"),
    ("dns", socket.gaierror(-2, "Name or service not known"), "transient"),
    ("connect failed", ConnectFailed("the server did not answer in time"), "transient"),
    # Configuration: retrying cannot help.
    ("certificate", _cert_error(), "permanent"),
    ("handshake", ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"), "permanent"),
    ("tls failed", TlsFailed("the server does not offer STARTTLS"), "permanent"),
    ("host not allowed", HostNotAllowed("internal"), "permanent"),
    ("bad argument", BadArgument("line break"), "permanent"),
    # SMTP.
    ("smtp 451", SendRefused("try later", code=451), "transient"),
    ("smtp 421", SendRefused("closing", code=421), "transient"),
    ("smtp 550", SendRefused("no such user", code=550), "permanent"),
    ("smtp ambiguous", SendAmbiguous("maybe sent"), "permanent"),
    ("smtplib 452", smtplib.SMTPResponseException(452, b"4.3.1 full"), "transient"),
    ("smtplib 554", smtplib.SMTPResponseException(554, b"5.7.1 rejected"), "permanent"),
    ("smtp auth 535", smtplib.SMTPAuthenticationError(535, b"5.7.8 bad credentials"), "auth"),
    ("smtp auth 454", smtplib.SMTPAuthenticationError(454, b"4.7.0 try later"), "transient"),
    ("smtp disconnected", smtplib.SMTPServerDisconnected("closed"), "transient"),
    (
        "smtp recipients 550",
        smtplib.SMTPRecipientsRefused({"a@b.test": (550, b"no")}),
        "permanent",
    ),
    (
        "smtp recipients 450",
        smtplib.SMTPRecipientsRefused({"a@b.test": (450, b"later")}),
        "transient",
    ),
    # Our own bugs are not worth retrying.
    ("bug", ValueError("oops"), "permanent"),
]


@pytest.mark.parametrize(("exc", "kind"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_classify(exc: BaseException, kind: str) -> None:
    failure = classify(exc)
    assert isinstance(failure, Failure)
    assert failure.kind == kind
    assert failure.reason.strip()
    assert "\n" not in failure.reason


def test_the_reason_is_human_text() -> None:
    assert classify(socket.gaierror(-2, "Name or service not known")).reason == (
        "the server's name does not resolve (Name or service not known)"
    )
    assert "certificate" in classify(_cert_error()).reason
