"""The fast readers of FETCH replies agree with IMAPClient's general parser on real Dovecot
replies, and hand anything of another shape back to it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mailroom.transport.fetch_reply import UnexpectedReply, read_bodies, read_metadata
from mailroom.transport.imap import ImapSession, ImapSettings
from tests.servers.fixtures import ImapAccount

RAW = b"From: a@customer.test\r\nSubject: %d\r\n\r\n" + b"line\r\n" * 50


def _session(account: ImapAccount) -> ImapSession:
    return ImapSession(
        ImapSettings(
            host=account.host,
            port=account.port,
            encryption="none",
            username=account.username,
            password=account.password,
            allowed_hosts=("127.0.0.1",),
            allowed_ports=(account.port,),
        )
    )


def test_metadata_and_bodies_match_the_general_parser(imap_account: ImapAccount) -> None:
    when = datetime(2026, 11, 3, 9, 30, tzinfo=UTC)
    uids = [imap_account.append("INBOX", RAW % n, msg_time=when) for n in range(5)]
    with _session(imap_account) as session:
        session.examine("INBOX")
        meta = session.metadata(uids)
        bodies = session.bodies(uids)
        general = {m.uid: m for m in session.fetch(uids)}

    assert sorted(bodies) == sorted(general) == uids
    for uid in uids:
        assert bodies[uid] == general[uid].raw
        size, arrived = meta[uid]
        assert size == len(general[uid].raw)
        assert arrived == general[uid].internal_date == when


def test_an_expunged_uid_is_absent_not_an_error(imap_account: ImapAccount) -> None:
    uids = [imap_account.append("INBOX", RAW % n) for n in range(3)]
    client = imap_account.client()
    try:
        client.select_folder("INBOX")
        client.delete_messages([uids[1]])
        client.expunge()
    finally:
        client.logout()
    with _session(imap_account) as session:
        session.examine("INBOX")
        assert sorted(session.metadata(uids)) == [uids[0], uids[2]]
        assert sorted(session.bodies(uids)) == [uids[0], uids[2]]


@pytest.mark.parametrize(
    "data",
    [
        [b'1 (RFC822.SIZE 10 INTERNALDATE "03-Nov-2026 09:30:00 +0000")'],  # no UID
        [b"garbage"],
        [(b"1 (UID 1 BODY[] {5}", b"abc")],  # shorter than announced
    ],
)
def test_replies_of_another_shape_are_handed_back(data: list[object]) -> None:
    with pytest.raises(UnexpectedReply):
        read_metadata(data) if isinstance(data[0], bytes) else read_bodies(data)


def test_unsolicited_flag_updates_are_not_answers() -> None:
    data: list[object] = [
        (b"1 (UID 1 BODY[] {3}", b"abc"),
        b")",
        b"7 (UID 7 FLAGS (\\Seen))",
    ]
    assert read_bodies(data) == {1: b"abc"}
    assert read_metadata([b"7 (UID 7 FLAGS (\\Seen))"]) == {}
