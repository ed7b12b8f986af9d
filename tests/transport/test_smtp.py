"""The SMTP transport against a real aiosmtpd server: logins, refusals, ambiguity."""

from __future__ import annotations

import pytest

from mailroom.transport.errors import AuthFailed, SendAmbiguous, SendRefused
from mailroom.transport.smtp import SmtpSettings, check_login, send_message
from tests.servers.smtp import DROP, SmtpSink

RAW = b"From: support@example.test\r\nTo: a@customer.test\r\nSubject: x\r\n\r\nbody\r\n"


def _settings(sink: SmtpSink, username: str = "", password: str = "") -> SmtpSettings:
    return SmtpSettings(
        host=sink.host,
        port=sink.port,
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
