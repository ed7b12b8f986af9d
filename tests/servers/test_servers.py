"""Proof that the loopback server fixtures talk real IMAP and SMTP."""

from __future__ import annotations

import secrets
import smtplib
import time

import pytest
from imapclient.exceptions import IMAPClientAbortError, LoginError

from tests.servers.dovecot import DovecotServer, live_group_members
from tests.servers.fixtures import ImapAccount
from tests.servers.smtp import DROP, SmtpSink


def _message(n: int, body: bytes = b"") -> bytes:
    return (
        b"From: Alice <alice@example.test>\r\n"
        b"To: shared@example.test\r\n"
        b"Subject: message %d\r\n"
        b"Message-ID: <m%d@example.test>\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n"
        b"\r\n"
        b"Gr\xc3\xbc\xc3\x9fe number %d\r\n" % (n, n, n) + body
    )


def test_it_appends_messages_and_reads_back_identical_bytes(imap_account: ImapAccount) -> None:
    raws = [_message(1), _message(2, b"second line\r\n")]

    uids = [imap_account.append("INBOX", raw) for raw in raws]

    assert uids[0] < uids[1]
    client = imap_account.client()
    try:
        client.select_folder("INBOX", readonly=True)
        assert client.search("ALL") == uids
        fetched = client.fetch(uids, ["BODY.PEEK[]"])
    finally:
        client.logout()
    assert [fetched[uid][b"BODY[]"] for uid in uids] == raws


def test_it_appends_with_flags(imap_account: ImapAccount) -> None:
    uid = imap_account.append("INBOX", _message(1), flags=[b"\\Seen", b"$Forwarded"])

    client = imap_account.client()
    try:
        client.select_folder("INBOX", readonly=True)
        flags = client.get_flags([uid])[uid]
    finally:
        client.logout()
    assert set(flags) - {b"\\Recent"} == {b"\\Seen", b"$Forwarded"}


def test_it_lists_a_created_folder(imap_account: ImapAccount) -> None:
    imap_account.create_folder("Archive/2024")
    imap_account.create_folder("Entwürfe")

    client = imap_account.client()
    try:
        names = {name for _flags, _sep, name in client.list_folders()}
        sent = client.find_special_folder(b"\\Sent")
    finally:
        client.logout()
    assert {"INBOX", "Archive/2024", "Entwürfe"} <= names
    assert sent == "Sent"


def test_it_rejects_a_wrong_password(dovecot: DovecotServer, imap_account: ImapAccount) -> None:
    with pytest.raises(LoginError, match="AUTHENTICATIONFAILED"):
        dovecot.client(imap_account.username, imap_account.password + "x")

    dovecot.wait_for_log(f"passwd-file({imap_account.username},")
    assert dovecot.auth_failure_count(imap_account.username) == 1


def test_it_logs_in_with_a_non_ascii_password(dovecot: DovecotServer) -> None:
    username = f"utf8-{secrets.token_hex(4)}@example.test"
    dovecot.add_user(username, "pä:ss wörd")

    dovecot.client(username, "pä:ss wörd").logout()

    dovecot.wait_for_log(f"Login: user=<{username}>,")
    assert dovecot.login_count(username) == 1


def test_it_makes_a_maildir_delivery_visible(imap_account: ImapAccount) -> None:
    raw = _message(7)

    path = imap_account.deliver(raw)

    assert path.parent.name == "new"
    client = imap_account.client()
    try:
        client.select_folder("INBOX", readonly=True)
        uids = client.search("ALL")
        fetched = client.fetch(uids, ["BODY.PEEK[]"])
    finally:
        client.logout()
    assert len(uids) == 1
    assert fetched[uids[0]][b"BODY[]"] == raw


def test_it_delivers_into_a_new_folder_seen_by_a_running_session(
    imap_account: ImapAccount,
) -> None:
    client = imap_account.client()
    try:
        client.select_folder("INBOX")
        imap_account.deliver(_message(1), folder="Leads")
        status = client.folder_status("Leads", [b"MESSAGES"])
    finally:
        client.logout()
    assert status[b"MESSAGES"] == 1


def test_it_kicks_a_session(dovecot: DovecotServer, imap_account: ImapAccount) -> None:
    client = imap_account.client()
    client.select_folder("INBOX")

    dovecot.kick(imap_account.username)

    # doveadm signals the session's process and returns: a command sent at once may still be
    # answered before the process goes. Within seconds, the session is gone.
    deadline = time.monotonic() + 5
    with pytest.raises((IMAPClientAbortError, OSError)):
        while time.monotonic() < deadline:
            client.noop()
            time.sleep(0.05)
    client.shutdown()


def test_it_restarts_keeping_mail_and_stops_without_leftover_processes() -> None:
    server = DovecotServer()
    server.start()
    server.add_user("restart@example.test", "pw")
    uid = server.append("restart@example.test", "pw", "INBOX", _message(1))
    port = server.port

    server.restart()

    assert server.port == port
    client = server.client("restart@example.test", "pw")
    try:
        client.select_folder("INBOX", readonly=True)
        assert client.search("ALL") == [uid]
    finally:
        client.logout()
    root, pid = server.root, server.pid
    assert root is not None
    assert pid is not None

    server.stop()

    assert not server.running
    assert not root.exists()
    assert live_group_members(pid) == []


def test_it_records_a_message_sent_with_smtplib(smtp_sink: SmtpSink) -> None:
    raw = _message(3)

    with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=10) as smtp:
        refused = smtp.sendmail(
            "",
            ["shared@example.test"],
            raw,
            mail_options=["SMTPUTF8", "BODY=8BITMIME"],
            rcpt_options=["NOTIFY=NEVER"],
        )
        assert smtp.has_extn("dsn")

    assert refused == {}
    [mail] = smtp_sink.messages
    assert mail.data == raw
    assert mail.mail_from == "<>"
    assert mail.rcpt_tos == ["shared@example.test"]
    assert mail.rcpt_options == ["NOTIFY=NEVER"]
    # smtplib adds SIZE= because the sink advertises SIZE.
    assert {"SMTPUTF8", "BODY=8BITMIME"} <= set(mail.mail_options)
    assert mail.accepted


def test_it_answers_a_scripted_451_then_accepts(smtp_sink: SmtpSink) -> None:
    smtp_sink.script(["451 4.3.0 try later"])

    with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=10) as smtp:
        with pytest.raises(smtplib.SMTPDataError) as excinfo:
            smtp.sendmail("a@example.test", ["b@example.test"], _message(4))
        assert excinfo.value.smtp_code == 451
        smtp.sendmail("a@example.test", ["b@example.test"], _message(4))

    assert [mail.reply for mail in smtp_sink.messages] == ["451 4.3.0 try later", "250 OK"]
    assert len(smtp_sink.accepted) == 1


def test_it_drops_the_connection_after_data(smtp_sink: SmtpSink) -> None:
    smtp_sink.script([DROP])

    with (
        smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=10) as smtp,
        pytest.raises((smtplib.SMTPServerDisconnected, ConnectionError)),
    ):
        smtp.sendmail("a@example.test", ["b@example.test"], _message(5))

    [mail] = smtp_sink.messages
    assert mail.reply == DROP
    assert smtp_sink.accepted == []


def test_it_rejects_a_scripted_recipient(smtp_sink: SmtpSink) -> None:
    smtp_sink.reject_rcpt("gone@example.test")

    with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=10) as smtp:
        refused = smtp.sendmail(
            "a@example.test", ["gone@example.test", "b@example.test"], _message(6)
        )

    assert refused == {"gone@example.test": (550, b"5.1.1 no such user")}
    assert smtp_sink.messages[0].rcpt_tos == ["b@example.test"]


def test_it_authenticates_with_the_configured_credentials(smtp_sink: SmtpSink) -> None:
    assert smtp_sink.username is not None
    assert smtp_sink.password is not None

    with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=10) as smtp:
        with pytest.raises(smtplib.SMTPAuthenticationError):
            smtp.login(smtp_sink.username, "wrong")
        smtp.login(smtp_sink.username, smtp_sink.password)
        smtp.sendmail("a@example.test", ["b@example.test"], _message(8))

    assert smtp_sink.messages[0].auth_login == smtp_sink.username


# Plaintext AUTH is the point here: the sink only listens on loopback.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_it_requires_auth_when_asked() -> None:
    with (
        SmtpSink(username="u", password="p", auth_required=True) as sink,
        smtplib.SMTP(sink.host, sink.port, timeout=10) as smtp,
    ):
        with pytest.raises(smtplib.SMTPSenderRefused):
            smtp.sendmail("a@example.test", ["b@example.test"], _message(9))
        smtp.login("u", "p")
        smtp.sendmail("a@example.test", ["b@example.test"], _message(9))
        assert len(sink.messages) == 1


def test_it_accepts_an_smtputf8_envelope(smtp_sink: SmtpSink) -> None:
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=10) as smtp:
        smtp.ehlo("client.test")
        assert smtp.has_extn("smtputf8")
        smtp.sendmail("jörg@exämple.test", ["ünïcode@example.test"], _message(10), ["SMTPUTF8"])

    [mail] = smtp_sink.messages
    assert mail.mail_from == "jörg@exämple.test"
    assert mail.rcpt_tos == ["ünïcode@example.test"]
