"""One message whose parsed values the database refuses (a Date past year 9999 in UTC, a value
too long for its column) must not cost its chunk: the others are stored as usual, and that one
is kept raw only, flagged with the reason, and processed like any other.

The refused value is put into the parser's output for one message (the database, the store
and the sync are the real ones): on SQLite a Date that cannot be turned into UTC (as the
year-9999 Date did before the parser learned of it), on PostgreSQL a NUL in a text column
(which PostgreSQL cannot store, and SQLite can).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest
from django.db import connection

from mailroom.mime.parse import ParsedMessage
from mailroom.models import Mailbox, Message, ProcessingState
from mailroom.store import incoming
from tests.conftest import run_cli
from tests.servers.fixtures import ImapAccount

pytestmark = pytest.mark.django_db(transaction=True)

# A moment Django cannot turn into UTC for the database: 23:59 on 31 December 9999 at -14:00.
OUT_OF_RANGE = datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-14)))


def _mail(subject: str) -> bytes:
    return (
        f"Return-Path: <ann@customer.test>\r\nFrom: Ann <ann@customer.test>\r\n"
        f"To: support@example.test\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject.replace(' ', '-')}@customer.test>\r\n"
        "Date: Wed, 2 Dec 2026 10:00:00 +0000\r\n\r\nHello.\r\n"
    ).encode()


def test_a_row_the_database_refuses_is_kept_raw_and_its_chunk_is_stored(
    make_mailbox: Callable[..., Mailbox],
    imap_account: ImapAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_mailbox(processor="case")
    subjects = ["First question", "Poison pill", "Third question", "Fourth question"]
    for subject in subjects:
        imap_account.deliver(_mail(subject))
    real = incoming.row_values

    def refused_date(parsed: ParsedMessage) -> tuple[dict[str, object], list[dict[str, object]]]:
        fields, attachments = real(parsed)
        if parsed.subject == "Poison pill":
            if connection.vendor == "sqlite":
                fields["date"] = OUT_OF_RANGE
            else:
                fields["from_name"] = "Ann\x00"
        return fields, attachments

    monkeypatch.setattr(incoming, "row_values", refused_date)

    run_cli("sync", "--once")

    stored = {m.subject or m.message_id: m for m in Message.objects.all()}
    assert len(stored) == 4
    poison = Message.objects.get(message_id="")
    assert poison.is_malformed
    assert any("kept raw only" in defect for defect in poison.defects)
    assert poison.read_raw() == _mail("Poison pill")
    others = Message.objects.exclude(pk=poison.pk)
    assert sorted(others.values_list("subject", flat=True)) == sorted(
        s for s in subjects if s != "Poison pill"
    )
    assert not others.filter(is_malformed=True).exists()
    assert all(m.processing.state == ProcessingState.DONE for m in Message.objects.all())
