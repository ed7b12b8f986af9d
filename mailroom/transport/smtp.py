"""Send one message through a mailbox's SMTP server, telling apart refused, retryable and
ambiguous outcomes.

The envelope is built here (``MAIL FROM:<>`` for automatic replies, ``NOTIFY=NEVER`` when the
server supports DSN); the message bytes are composed elsewhere and sent unchanged. The mail
timeout bounds the connect, the TLS handshake, the greeting and every reply.
"""

from __future__ import annotations

import base64
import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from mailroom.transport.errors import (
    AuthFailed,
    ConnectFailed,
    SendAmbiguous,
    SendRefused,
    TlsFailed,
    TransportError,
    connect_failed,
)
from mailroom.transport.hosts import ResolvedHost, ServerSettings, tls_client_context


@dataclass(frozen=True)
class SmtpSettings(ServerSettings):
    """An SMTP server's settings."""


class _PinnedSMTP(smtplib.SMTP):
    def __init__(self, target: ResolvedHost, timeout: float) -> None:
        self._target = target
        super().__init__(timeout=timeout)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return socket.create_connection((self._target.address, port), timeout)


class _PinnedSMTPSSL(smtplib.SMTP_SSL):
    def __init__(self, target: ResolvedHost, timeout: float) -> None:
        self._target = target
        super().__init__(timeout=timeout, context=tls_client_context())

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = socket.create_connection((self._target.address, port), timeout)
        return self.context.wrap_socket(sock, server_hostname=self._target.name)


def _open(settings: SmtpSettings) -> smtplib.SMTP:
    target = settings.resolve()
    smtp: smtplib.SMTP
    if settings.encryption == "ssl":
        smtp = _PinnedSMTPSSL(target, settings.timeout)
    else:
        smtp = _PinnedSMTP(target, settings.timeout)
    try:
        code, banner = smtp.connect(target.name, target.port)
        if code != 220:
            raise SendRefused(f"the server refused the connection: {code} {banner!r}", code=code)
        smtp.ehlo()
        if settings.encryption == "starttls":
            if not smtp.has_extn("starttls"):
                raise TlsFailed("the server does not offer STARTTLS")
            smtp.starttls(context=tls_client_context())
            smtp.ehlo()
        if settings.username and smtp.has_extn("auth"):
            _login(smtp, settings.username, settings.password)
    except (TransportError, OSError) as exc:  # smtplib's and ssl's errors are OSErrors
        smtp.close()
        raise _opening_error(exc) from None
    return smtp


def _opening_error(exc: TransportError | OSError) -> TransportError:
    """What went wrong while connecting, negotiating encryption or logging in."""
    if isinstance(exc, TransportError):
        return exc
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        if exc.smtp_code < 500:
            reply = _reply_text(exc.smtp_error)
            return SendRefused(
                f"the SMTP server cannot check the login now: {exc.smtp_code} {reply}",
                code=exc.smtp_code,
            )
        return AuthFailed("the SMTP server refused the user name or password")
    if isinstance(exc, ssl.SSLError):
        return TlsFailed(f"TLS handshake with the SMTP server failed ({exc.reason})")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return _disconnected(exc, "connecting to the SMTP server")
    if isinstance(exc, smtplib.SMTPResponseException):  # includes a refused greeting
        reply = _reply_text(exc.smtp_error)
        return SendRefused(f"the SMTP server refused: {exc.smtp_code} {reply}", code=exc.smtp_code)
    if isinstance(exc, smtplib.SMTPException):
        # For example "No suitable authentication method found".
        return AuthFailed(f"cannot log in to the SMTP server: {exc}")
    return connect_failed(exc, "connecting to the SMTP server")


def _login(smtp: smtplib.SMTP, username: str, password: str) -> None:
    if (username + password).isascii():
        smtp.login(username, password)
        return
    # smtplib encodes credentials as ASCII; AUTH PLAIN carries UTF-8 (RFC 4616).
    if "PLAIN" not in smtp.esmtp_features.get("auth", "").upper().split():
        raise smtplib.SMTPException("a non-ASCII user name or password needs AUTH PLAIN")
    token = base64.b64encode(f"\0{username}\0{password}".encode()).decode()
    code, reply = smtp.docmd("AUTH", f"PLAIN {token}")
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, reply)


def _disconnected(exc: smtplib.SMTPServerDisconnected, stage: str) -> ConnectFailed:
    """smtplib reports a reply that timed out as a closed connection; tell them apart."""
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, OSError):
        return connect_failed(cause, stage)
    return ConnectFailed(f"the SMTP server closed the connection ({stage}): {exc}")


def _reply_text(message: bytes | str) -> str:
    return message.decode(errors="replace") if isinstance(message, bytes) else message


def send_message(
    settings: SmtpSettings,
    *,
    mail_from: str,
    rcpt: str,
    raw: bytes,
    on_data: Callable[[], None] | None = None,
) -> None:
    """Send an autoresponse ``raw`` to ``rcpt``; ``mail_from`` may be ``""`` for the null
    reverse path, and no delivery report is asked for (``NOTIFY=NEVER`` where offered).

    ``on_data`` is called once, immediately before the DATA command is sent, and only when the
    server accepted the sender and the recipient: from then on the message may be delivered
    whatever happens next, so the caller records it there. An exception it raises stops the
    send before DATA and propagates unchanged.

    Raises :class:`SendRefused` (with the SMTP code) when the server refuses;
    :class:`ConnectFailed` (not permanent: nothing was delivered) when the connection breaks
    before DATA; :class:`SendAmbiguous` when it breaks after DATA was sent and before the
    server's final answer; another :class:`TransportError` when the server cannot be reached.
    """
    _send(settings, mail_from, [rcpt], raw, on_data, reports=False)


def send_to_all(
    settings: SmtpSettings,
    *,
    mail_from: str,
    rcpts: list[str],
    raw: bytes,
    on_data: Callable[[], None] | None = None,
) -> None:
    """Send a reply a person wrote to every address of ``rcpts`` in one SMTP transaction,
    with the server's usual delivery reports (they come back to the mailbox).

    Outcomes as :func:`send_message`; a refused recipient refuses the whole reply (nothing is
    sent then: a reply that reaches only some of its recipients is not what its author wrote,
    and sent again it would reach the others twice).
    """
    if not rcpts:
        raise SendRefused("the reply has no recipient", code=554)
    _send(settings, mail_from, rcpts, raw, on_data, reports=True)


def _send(
    settings: SmtpSettings,
    mail_from: str,
    rcpts: list[str],
    raw: bytes,
    on_data: Callable[[], None] | None,
    *,
    reports: bool,
) -> None:
    """One SMTP transaction: the envelope, then DATA; see :func:`send_message`."""
    smtp = _open(settings)
    try:
        try:
            rcpt_options = ["NOTIFY=NEVER"] if not reports and smtp.has_extn("dsn") else []
            code, reply = smtp.mail(mail_from)
            if code != 250:
                raise SendRefused(f"sender refused: {code} {_reply_text(reply)}", code=code)
            for rcpt in rcpts:
                code, reply = smtp.rcpt(rcpt, rcpt_options)
                if code not in (250, 251):
                    raise SendRefused(
                        f"recipient {rcpt} refused: {code} {_reply_text(reply)}", code=code
                    )
        except smtplib.SMTPServerDisconnected as exc:
            # Before DATA the server cannot have taken the message: safe to try again.
            raise _disconnected(exc, "sending the envelope") from None
        except OSError as exc:
            raise connect_failed(exc, "sending the envelope") from None
        if on_data is not None:
            on_data()
        try:
            code, reply = smtp.data(raw)
        except smtplib.SMTPDataError as exc:
            raise SendRefused(
                f"message refused: {exc.smtp_code} {_reply_text(exc.smtp_error)}",
                code=exc.smtp_code,
            ) from None
        except OSError:  # includes SMTPServerDisconnected and timeouts
            raise SendAmbiguous(
                "the connection broke after the message was sent and before the server "
                "confirmed it; it may have been delivered, so it is not sent again"
            ) from None
        if code != 250:
            raise SendRefused(f"message refused: {code} {_reply_text(reply)}", code=code)
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


def check_login(settings: SmtpSettings) -> bool:
    """Connect, negotiate encryption and log in, then quit without sending anything.

    Returns whether a login took place: False when the server asks for none (a relay that
    trusts the address mailroom connects from).
    """
    smtp = _open(settings)
    logged_in = bool(settings.username and smtp.has_extn("auth"))
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()
    return logged_in
