"""Errors of the transport layer, each naming the form field it concerns and whether it lasts.

``field`` is the mailbox setting to look at (``host``, ``port``, ``encryption``, ``username``,
``password``, ``folder``) so the UI can show the message next to it; ``permanent`` says whether
trying again without a configuration change can help.
"""

from __future__ import annotations


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
