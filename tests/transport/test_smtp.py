"""The SMTP transport against a real aiosmtpd server: logins, refusals, ambiguity."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from typing_extensions import override

from mailroom.transport.errors import (
    AuthFailed,
    ConnectFailed,
    SendAmbiguous,
    SendRefused,
    classify,
)
from mailroom.transport.smtp import SmtpSettings, check_login, send_message, send_to_all
from tests.servers.smtp import DROP, SmtpSink
from tests.transport.peers import SilentPeer

RAW = b"From: support@example.test\r\nTo: a@customer.test\r\nSubject: x\r\n\r\nbody\r\n"


def _settings(
    sink: SmtpSink | SilentPeer | _DroppingServer,
    username: str = "",
    password: str = "",
    timeout: float = 30.0,
) -> SmtpSettings:
    return SmtpSettings(
        host="127.0.0.1",
        port=sink.port,
        timeout=timeout,
        encryption="none",
        username=username,
        password=password,
        allowed_hosts=("127.0.0.1",),
    )


def test_it_logs_in_with_a_non_ascii_password() -> None:
    with SmtpSink(username="support", password="pässwört-ü", auth_required=True) as sink:
        assert check_login(_settings(sink, "support", "pässwört-ü")) is True
        send_message(
            _settings(sink, "support", "pässwört-ü"), mail_from="", rcpt="a@c.test", raw=RAW
        )
        (mail,) = sink.accepted
    assert mail.rcpt_tos == ["a@c.test"]


def test_it_says_when_the_server_asks_for_no_login() -> None:
    with SmtpSink() as sink:
        assert check_login(_settings(sink, "support", "pw")) is False


def test_it_reports_a_refused_login_as_an_auth_error() -> None:
    with (
        SmtpSink(username="support", password="right", auth_required=True) as sink,
        pytest.raises(AuthFailed),
    ):
        check_login(_settings(sink, "support", "wrong"))


def test_it_tells_a_temporary_refusal_from_a_permanent_one() -> None:
    with SmtpSink() as sink:
        sink.script(["451 4.3.0 try later", "550 5.1.1 no such user"])
        with pytest.raises(SendRefused) as temporary:
            send_message(_settings(sink), mail_from="", rcpt="a@c.test", raw=RAW)
        with pytest.raises(SendRefused) as permanent:
            send_message(_settings(sink), mail_from="", rcpt="a@c.test", raw=RAW)
    assert (temporary.value.code, temporary.value.permanent) == (451, False)
    assert (permanent.value.code, permanent.value.permanent) == (550, True)


def test_it_calls_a_connection_dropped_after_the_data_ambiguous() -> None:
    with SmtpSink() as sink:
        sink.script([DROP])
        with pytest.raises(SendAmbiguous):
            send_message(_settings(sink), mail_from="", rcpt="a@c.test", raw=RAW)


def test_it_asks_for_no_delivery_report_when_the_server_offers_dsn() -> None:
    with SmtpSink() as sink:
        send_message(_settings(sink), mail_from="", rcpt="a@c.test", raw=RAW)
        (mail,) = sink.accepted
    assert mail.mail_from == "<>"
    assert "NOTIFY=NEVER" in mail.rcpt_options


@pytest.mark.parametrize("encryption", ["none", "ssl", "starttls"])
def test_a_server_that_never_greets_fails_within_the_timeout(encryption: str) -> None:
    """The silent peer accepts TCP and never sends 220 (aiosmtpd always greets)."""
    with SilentPeer() as peer:
        settings = SmtpSettings(
            host="127.0.0.1",
            port=peer.port,
            encryption=encryption,
            username="",
            password="",
            timeout=1.0,
            allowed_hosts=("127.0.0.1",),
        )
        started = time.monotonic()
        with pytest.raises(ConnectFailed) as caught:
            check_login(settings)
        elapsed = time.monotonic() - started
    assert elapsed < 3.0
    assert "in time" in str(caught.value)
    assert classify(caught.value).kind == "transient"


def test_on_data_is_called_once_just_before_the_data_command() -> None:
    with SmtpSink() as sink:
        seen: list[int] = []
        send_message(
            _settings(sink),
            mail_from="",
            rcpt="a@c.test",
            raw=RAW,
            on_data=lambda: seen.append(len(sink.messages)),
        )
        assert seen == [0]
        assert len(sink.accepted) == 1


def test_on_data_is_not_called_when_the_recipient_is_refused() -> None:
    with SmtpSink() as sink:
        sink.reject_rcpt("a@c.test", "550 5.1.1 no such user")
        seen: list[bool] = []
        with pytest.raises(SendRefused):
            send_message(
                _settings(sink),
                mail_from="",
                rcpt="a@c.test",
                raw=RAW,
                on_data=lambda: seen.append(True),
            )
    assert seen == []


def test_nothing_is_sent_when_on_data_fails() -> None:
    def refuse() -> None:
        raise RuntimeError("cannot record the attempt")

    with SmtpSink() as sink:
        with pytest.raises(RuntimeError):
            send_message(_settings(sink), mail_from="", rcpt="a@c.test", raw=RAW, on_data=refuse)
        assert sink.messages == []


def test_a_drop_after_the_data_started_is_still_ambiguous() -> None:
    with SmtpSink() as sink:
        sink.script([DROP])
        seen: list[bool] = []
        with pytest.raises(SendAmbiguous):
            send_message(
                _settings(sink),
                mail_from="",
                rcpt="a@c.test",
                raw=RAW,
                on_data=lambda: seen.append(True),
            )
    assert seen == [True]


class _DroppingHandler:
    """Closes the connection, without a reply, when MAIL or RCPT (``drop_at``) arrives.

    SmtpSink can only drop after DATA, hence this local handler.
    """

    def __init__(self, drop_at: str) -> None:
        self.drop_at = drop_at

    def _drop(self, server: SMTP) -> str:
        transport = server.transport
        assert isinstance(transport, asyncio.Transport)
        # Drop at once: the client must never see a reply to its command.
        transport.abort()
        return "250 OK (never sent: connection closed)"

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.drop_at == "MAIL":
            return self._drop(server)
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.drop_at == "RCPT":
            return self._drop(server)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raise AssertionError("DATA must not be reached")


class _DroppingServer(Controller):
    """aiosmtpd on a free loopback port with a :class:`_DroppingHandler`."""

    def __init__(self, drop_at: str) -> None:
        super().__init__(_DroppingHandler(drop_at), hostname="127.0.0.1", port=0)

    @override
    def _trigger_server(self) -> None:
        # Bound by now: learn the port the kernel picked before the base class connects to it.
        server = self.server
        assert isinstance(server, asyncio.Server)
        self.port = server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


@pytest.fixture(params=["MAIL", "RCPT"])
def dropping_server(request: pytest.FixtureRequest) -> Iterator[_DroppingServer]:
    server = _DroppingServer(request.param)
    server.start()
    yield server
    server.stop()


def test_a_drop_before_data_is_a_retryable_connect_failure(
    dropping_server: _DroppingServer,
) -> None:
    seen: list[bool] = []
    with pytest.raises(ConnectFailed) as caught:
        send_message(
            _settings(dropping_server),
            mail_from="",
            rcpt="a@c.test",
            raw=RAW,
            on_data=lambda: seen.append(True),
        )
    assert caught.value.permanent is False
    assert classify(caught.value).kind == "transient"
    assert seen == []


def test_plain_sends_never_build_a_tls_context(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = ssl.create_default_context

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counting)
    with SmtpSink() as sink:
        for _ in range(3):
            send_message(_settings(sink), mail_from="", rcpt="a@c.test", raw=RAW)
    assert calls == []


def test_a_reply_to_two_recipients_one_refused_is_sent_to_neither_and_says_which() -> None:
    # threats.md F19: a written reply reaches all its recipients or none (a partial send, sent
    # again, would reach the others twice); the refusal names the refused address.
    with SmtpSink() as sink:
        sink.reject_rcpt("gone@c.test", "550 5.1.1 no such user")
        with pytest.raises(SendRefused, match=r"gone@c\.test.*550") as refused:
            send_to_all(
                _settings(sink),
                mail_from="support@x.test",
                rcpts=["a@c.test", "gone@c.test"],
                raw=RAW,
            )
        assert refused.value.code == 550
        assert sink.accepted == []
