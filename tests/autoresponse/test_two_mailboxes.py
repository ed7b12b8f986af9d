"""Two mailroom mailboxes whose rules answer each other: one answer each, then silence.

Each mailbox has its own Dovecot account and SMTP server. A relay plays the mail system between
them: what one mailbox's SMTP server accepted for ``fwd-<name>@forwarder.test`` is delivered
into the account of ``<name>@example.test``, with the Return-Path a forwarder gives it. The
exchange starts with a person at each shared address writing to the other through that
forwarder (so neither Return-Path is a mailroom mailbox address, which would stop it at once).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator

import pytest

from mailroom.models import ProcessingRecord
from tests.autoresponse.helpers import add_mailbox, add_rule, detail, person, sync
from tests.servers.dovecot import DovecotServer
from tests.servers.fixtures import ImapAccount
from tests.servers.smtp import ReceivedMail, SmtpSink

pytestmark = pytest.mark.django_db

_MARKERS = re.compile(
    rb"(?im)^(auto-submitted|precedence|x-auto-response-suppress|x-mailroom-loop|message-id)"
    rb":.*\r\n"
)


@pytest.fixture
def sales_account(dovecot: DovecotServer) -> ImapAccount:
    account = ImapAccount(
        dovecot.host,
        dovecot.port,
        f"sales-{secrets.token_hex(4)}@example.test",
        secrets.token_urlsafe(12),
        dovecot,
    )
    dovecot.add_user(account.username, account.password)
    return account


@pytest.fixture
def sales_smtp(sales_account: ImapAccount) -> Iterator[SmtpSink]:
    with SmtpSink(
        username=sales_account.username, password=sales_account.password, auth_required=True
    ) as sink:
        yield sink


def _relay(
    sinks: dict[str, SmtpSink],
    accounts: dict[str, ImapAccount],
    done: set[int],
    *,
    strip: bool,
) -> int:
    """Deliver what the SMTP servers accepted and was not delivered yet; return how much.

    ``strip``: the forwarder removes every marker of automatic mail and the Message-ID, and
    re-sends from its own address, as the worst list servers and forwarders do.
    """
    delivered = 0
    for sink in sinks.values():
        for mail in sink.accepted:
            if id(mail) in done:
                continue
            done.add(id(mail))
            delivered += 1
            (rcpt,) = mail.rcpt_tos
            name = rcpt.removeprefix("fwd-").split("@")[0]
            data = mail.data
            return_path = "<>" if mail.mail_from == "<>" else f"<{mail.mail_from}>"
            if strip:
                data = _MARKERS.sub(b"", data)
                sender = "sales" if name == "support" else "support"
                return_path = f"<fwd-{sender}@forwarder.test>"
            accounts[name].append("INBOX", f"Return-Path: {return_path}\r\n".encode() + data)
    return delivered


def _answers(sink: SmtpSink) -> list[ReceivedMail]:
    return sink.accepted


@pytest.mark.parametrize("strip", [False, True], ids=["headers-kept", "markers-stripped"])
def test_two_mailboxes_answering_each_other_stop_after_one_answer_each(
    strip: bool,
    db: None,
    imap_account: ImapAccount,
    smtp_server: SmtpSink,
    sales_account: ImapAccount,
    sales_smtp: SmtpSink,
) -> None:
    support = add_mailbox("Support", "support@example.test", imap_account, smtp_server)
    sales = add_mailbox("Sales", "sales@example.test", sales_account, sales_smtp)
    add_rule(support)
    add_rule(sales)
    accounts = {"support": imap_account, "sales": sales_account}
    sinks = {"support": smtp_server, "sales": sales_smtp}
    imap_account.append(
        "INBOX",
        person(
            return_path="fwd-sales@forwarder.test",
            from_="Sales <sales@example.test>",
            to="support@example.test",
        ),
    )
    sales_account.append(
        "INBOX",
        person(
            return_path="fwd-support@forwarder.test",
            from_="Support <support@example.test>",
            to="sales@example.test",
        ),
    )
    done: set[int] = set()

    sync()
    rounds = 0
    while _relay(sinks, accounts, done, strip=strip):
        rounds += 1
        assert rounds < 5, "the mailboxes keep answering each other"
        sync()

    assert len(_answers(smtp_server)) == 1
    assert len(_answers(sales_smtp)) == 1
    assert rounds == 1
    records = ProcessingRecord.objects.order_by("pk")
    assert records.count() == 4
    for relayed in records[2:]:
        assert "queued" not in detail(relayed), detail(relayed)
