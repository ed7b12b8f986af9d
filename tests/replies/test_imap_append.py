"""ImapSession.append against Dovecot: the one write of the transport. Folder names go out
quoted (spaces, non-ASCII), line breaks never reach the server (threats.md S16)."""

from __future__ import annotations

import pytest

from mailroom.transport.errors import BadArgument, FolderMissing
from mailroom.transport.imap import ImapSession, ImapSettings, special_use_folder
from tests.servers.fixtures import ImapAccount

RAW = (
    b"From: Support <support@example.test>\r\nTo: alice@cust.test\r\n"
    b"Subject: Re: hi\r\nMessage-ID: <mr.1.append@example.test>\r\n\r\nThanks.\r\n"
)


def _settings(account: ImapAccount) -> ImapSettings:
    return ImapSettings(
        host=account.host,
        port=account.port,
        encryption="none",
        username=account.username,
        password=account.password,
        timeout=10.0,
        allowed_hosts=("127.0.0.1",),
    )


def test_it_appends_seen_to_a_folder_named_as_listed(imap_account: ImapAccount) -> None:
    imap_account.create_folder("Gesendete Objekte/Über uns")
    with ImapSession(_settings(imap_account)) as session:
        folders = session.list_folders()
        assert special_use_folder(folders, "\\Sent") == "Sent"
        name = next(f.name for f in folders if f.name.endswith("Über uns"))
        assert not session.holds_message_id(name, "<mr.1.append@example.test>")
        uid = session.append(name, RAW)
        assert uid is not None
        assert session.holds_message_id(name, "<mr.1.append@example.test>")
        assert not session.holds_message_id("Sent", "<mr.1.append@example.test>")
    client = imap_account.client()
    try:
        client.select_folder("Gesendete Objekte/Über uns", readonly=True)
        found = client.fetch([uid], ["FLAGS", "BODY.PEEK[]"])
    finally:
        client.logout()
    assert found[uid][b"BODY[]"] == RAW
    assert b"\\Seen" in found[uid][b"FLAGS"]


def test_a_folder_name_with_a_line_break_never_reaches_the_server(
    imap_account: ImapAccount,
) -> None:
    with ImapSession(_settings(imap_account)) as session:
        with pytest.raises(BadArgument):
            session.append("Sent\r\nX1 CREATE Injected", RAW)
        with pytest.raises(FolderMissing):
            session.append("No such folder", RAW)
        names = {folder.name for folder in session.list_folders()}
    assert "Injected" not in names
