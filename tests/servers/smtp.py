"""A scriptable SMTP sink on loopback for tests, built on aiosmtpd.

`SmtpSink` accepts mail on a free 127.0.0.1 port and records every DATA
transaction as a `ReceivedMail`. `script()` makes the next DATA commands answer
with given replies (451, 550, ...) or drop the connection, to exercise retry
and duplicate handling. The sink advertises 8BITMIME, SMTPUTF8 and DSN, and
accepts the DSN parameters (MAIL RET=/ENVID=, RCPT NOTIFY=/ORCPT=), which plain
aiosmtpd rejects with 555.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from typing_extensions import override

__all__ = ["DROP", "ReceivedMail", "SmtpSink"]

DROP = "DROP"
"""Script entry: close the connection after the DATA payload, without a reply."""

_DSN_MAIL_PARAMS = ("RET", "ENVID")
_DSN_RCPT_PARAMS = ("NOTIFY", "ORCPT")


@dataclass
class ReceivedMail:
    """One DATA transaction the sink saw, whatever it answered."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    rcpt_options: list[str]
    mail_options: list[str]
    # The reply the sink sent after DATA ("250 OK", "451 ...") or DROP.
    reply: str = "250 OK"
    # The AUTH login the client used in this session, if any.
    auth_login: str | None = None

    @property
    def accepted(self) -> bool:
        """Whether the sink answered 2xx, i.e. took responsibility for the mail."""
        return self.reply.startswith("2")


def _split_params(arg: str, keywords: tuple[str, ...]) -> tuple[str, list[str]]:
    """Remove ``KEYWORD=value`` parameters from a MAIL/RCPT argument.

    Returns the argument without them and the removed parameters, with the
    keyword upper-cased. Parameters follow the closing ``>`` of the address.
    """
    end = arg.rfind(">")
    if end >= 0:
        head, tail = arg[: end + 1], arg[end + 1 :]
    else:
        # "TO:user@host PARAM=x": the address is the first word.
        head, _, tail = arg.partition(" ")
    kept, taken = [], []
    for param in tail.split():
        keyword, _, value = param.partition("=")
        if keyword.upper() in keywords:
            # NOTIFY and RET values are keywords too; ORCPT/ENVID are xtext.
            if keyword.upper() in ("NOTIFY", "RET"):
                value = value.upper()
            taken.append(f"{keyword.upper()}={value}")
        else:
            kept.append(param)
    return " ".join([head, *kept]), taken


class _DsnSMTP(SMTP):
    """aiosmtpd's SMTP protocol plus acceptance of the RFC 3461 DSN parameters."""

    @override
    async def smtp_MAIL(self, arg: str | None) -> None:
        dsn: list[str] = []
        if arg and self.session is not None and self.session.extended_smtp:
            arg, dsn = _split_params(arg, _DSN_MAIL_PARAMS)
        await super().smtp_MAIL(arg)
        if dsn and self.envelope is not None and self.envelope.mail_from is not None:
            self.envelope.mail_options.extend(dsn)

    @override
    async def smtp_RCPT(self, arg: str | None) -> None:
        dsn: list[str] = []
        if arg and self.session is not None and self.session.extended_smtp:
            arg, dsn = _split_params(arg, _DSN_RCPT_PARAMS)
        before = len(self.envelope.rcpt_tos) if self.envelope is not None else 0
        await super().smtp_RCPT(arg)
        if dsn and self.envelope is not None and len(self.envelope.rcpt_tos) > before:
            self.envelope.rcpt_options.extend(dsn)


class _Handler:
    """aiosmtpd handler: records transactions and plays the script."""

    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        if self.sink.username is None:
            # aiosmtpd offers AUTH even without an authenticator (and then
            # fails every attempt); a sink without credentials should not.
            responses = [line for line in responses if not line.startswith("250-AUTH")]
        # Insert DSN before the final "250 HELP" line.
        return [*responses[:-1], "250-DSN", responses[-1]]

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        reply = self.sink._rcpt_replies.get(address.lower())
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.sink.data_delay:
            await asyncio.sleep(self.sink.data_delay)  # a slow server, after the data came in
        reply = self.sink._next_reply()
        auth_login = None
        if isinstance(session.auth_data, bytes):
            auth_login = session.auth_data.decode("utf-8", "replace")
        self.sink._record(
            ReceivedMail(
                mail_from=envelope.mail_from or "",
                rcpt_tos=list(envelope.rcpt_tos),
                data=bytes(envelope.original_content or b""),
                rcpt_options=list(envelope.rcpt_options),
                mail_options=list(envelope.mail_options),
                reply=reply,
                auth_login=auth_login,
            )
        )
        transport = server.transport
        assert transport is not None
        if reply == DROP:
            # The client has sent the whole message but never learns whether
            # it was accepted: the classic cause of duplicate deliveries.
            transport.close()
            return "250 OK (never sent: connection closed)"
        if reply.startswith("421"):
            # RFC 5321 §3.8: after 421 the server closes the connection. The
            # reply is written before this callback runs.
            asyncio.get_running_loop().call_soon(transport.close)
        return reply


class _Controller(Controller):
    """A Controller that binds port 0 and uses the DSN-aware protocol."""

    @override
    def factory(self) -> SMTP:
        return _DsnSMTP(self.handler, **self.SMTP_kwargs)

    @override
    def _trigger_server(self) -> None:
        # The server is bound by now; learn the port the kernel picked.
        server = self.server
        assert isinstance(server, asyncio.Server)
        self.port = server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


class SmtpSink:
    """An SMTP server on 127.0.0.1 that records what it receives.

    ``username``/``password`` enable AUTH PLAIN and LOGIN over plaintext
    (loopback only); ``auth_required`` makes MAIL fail until the client
    authenticates. Extra keyword arguments go to aiosmtpd's SMTP class (for
    example ``data_size_limit``).
    """

    host = "127.0.0.1"

    def __init__(
        self,
        *,
        username: str | None = None,
        password: str | None = None,
        auth_required: bool = False,
        **smtp_kwargs: Any,
    ) -> None:
        self.username = username
        self.password = password
        # Seconds the server thinks before it answers the message data.
        self.data_delay = 0.0
        self._lock = threading.Lock()
        self._messages: list[ReceivedMail] = []
        self._script: deque[str] = deque()
        self._rcpt_replies: dict[str, str] = {}
        self._changed = threading.Condition(self._lock)
        kwargs: dict[str, Any] = {
            "enable_SMTPUTF8": True,
            "decode_data": False,
            "auth_require_tls": False,
            "auth_required": auth_required,
            **smtp_kwargs,
        }
        if username is not None:
            kwargs["authenticator"] = self._authenticate
        self._controller = _Controller(_Handler(self), hostname=self.host, port=0, **kwargs)
        self._started = False

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start listening (in a background thread with its own event loop)."""
        self._controller.start()
        self._started = True

    def stop(self) -> None:
        """Stop listening and close all connections."""
        if self._started:
            self._controller.stop()
            self._started = False

    @property
    def port(self) -> int:
        """The port the sink listens on (valid after `start()`)."""
        port: int = self._controller.port
        return port

    # -- scripting -----------------------------------------------------------

    def script(self, responses: Iterable[str]) -> None:
        """Queue replies for the next DATA commands, in order.

        Each entry is a full reply line such as "451 4.3.0 try later" or
        "550 5.1.1 no such user", or `DROP` to close the connection after the
        message without replying. Once the queue is empty, DATA gets "250 OK".
        """
        with self._lock:
            self._script.extend(responses)

    def reject_rcpt(self, address: str, reply: str = "550 5.1.1 no such user") -> None:
        """Answer RCPT TO for ``address`` with ``reply`` from now on."""
        with self._lock:
            self._rcpt_replies[address.lower()] = reply

    # -- results -------------------------------------------------------------

    @property
    def messages(self) -> list[ReceivedMail]:
        """Every DATA transaction so far, including rejected and dropped ones."""
        with self._lock:
            return list(self._messages)

    @property
    def accepted(self) -> list[ReceivedMail]:
        """The transactions the sink answered with 2xx."""
        return [mail for mail in self.messages if mail.accepted]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedMail]:
        """Wait until at least ``count`` transactions were recorded; return all."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"{len(self._messages)} of {count} messages within {timeout} s"
                    )
                self._changed.wait(remaining)
            return list(self._messages)

    def clear(self) -> None:
        """Forget recorded messages, the script and RCPT rejections."""
        with self._lock:
            self._messages.clear()
            self._script.clear()
            self._rcpt_replies.clear()

    # -- called from the server thread ---------------------------------------

    def _next_reply(self) -> str:
        with self._lock:
            return self._script.popleft() if self._script else "250 OK"

    def _record(self, mail: ReceivedMail) -> None:
        with self._changed:
            self._messages.append(mail)
            self._changed.notify_all()

    def _authenticate(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        if (
            isinstance(auth_data, LoginPassword)
            and self.username is not None
            and self.password is not None
            and auth_data.login == self.username.encode()
            and auth_data.password == self.password.encode()
        ):
            return AuthResult(success=True, auth_data=auth_data.login)
        return AuthResult(success=False, handled=False)
