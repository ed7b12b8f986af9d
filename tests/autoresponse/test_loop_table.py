"""The 42 rows of ../shared/docs/autoresponder.md section 2.3, against the real pipeline.

Every row delivers mail into the real Dovecot, runs ``mailroom sync --once`` (store, process,
send) and looks at what the aiosmtpd sink accepted: an answer, or none, with the reason the
processing record gives. Rows the message alone decides are one table; rows that need several
messages, a second mailbox, a failing server or a clock are tests of their own, named by row.
The mailbox is support@example.test; the sender alice@cust.test.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from email.header import decode_header, make_header

import pytest
from django.utils import timezone

from mailroom import conf
from mailroom.models import (
    Alert,
    AnswerRecord,
    Case,
    Folder,
    Mailbox,
    Message,
    MessageCopy,
    OutboxMessage,
    OutboxState,
)
from tests.autoresponse.helpers import (
    SENDER,
    Rig,
    add_mailbox,
    add_rule,
    detail,
    parsed,
    person,
)
from tests.servers.dovecot import DovecotServer
from tests.servers.fixtures import ImapAccount
from tests.servers.smtp import SmtpSink

pytestmark = pytest.mark.django_db

DSN = (
    'multipart/report; report-type=delivery-status; boundary="b1"',
    "--b1\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
    "--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
    "Reporting-MTA: dns; mx.cust.test\r\n\r\nFinal-Recipient: rfc822; bob@cust.test\r\n"
    "Action: failed\r\nStatus: 5.1.1\r\n\r\n--b1--",
)
MDN = (
    'multipart/report; report-type=disposition-notification; boundary="b1"',
    "--b1\r\nContent-Type: text/plain\r\n\r\nYour message was displayed.\r\n"
    "--b1\r\nContent-Type: message/disposition-notification\r\n\r\n"
    "Final-Recipient: rfc822; alice@cust.test\r\n"
    "Disposition: manual-action/MDN-sent-manually; displayed\r\n\r\n--b1--",
)


@dataclass(frozen=True)
class Row:
    """One message and what must happen: answered at ``to``, or suppressed with ``reason``
    in the processing record."""

    id: str
    mail: bytes
    to: str | None = None
    reason: str = ""


def _header(*lines: str) -> bytes:
    return person(*lines)


ROWS = [
    Row("A01", person(), to=SENDER),
    Row("A02", _header("Auto-Submitted: auto-replied"), reason="Auto-Submitted: auto-replied"),
    Row("A03", _header("Auto-Submitted: auto-generated"), reason="Auto-Submitted: auto-gen"),
    Row("A04", _header("Auto-Submitted: auto-notified"), reason="Auto-Submitted: auto-notified"),
    Row("A05-x-foo", _header("Auto-Submitted: x-foo"), reason="Auto-Submitted: x-foo"),
    Row("A05-yes", _header("Auto-Submitted: yes"), reason="Auto-Submitted: yes"),
    Row("A05-empty", _header("Auto-Submitted:"), reason="Auto-Submitted: (empty)"),
    Row("A05-unparseable", _header("Auto-Submitted: (("), reason="Auto-Submitted"),
    Row("A06-no", _header("Auto-Submitted: no"), to=SENDER),
    Row("A06-NO", _header("Auto-Submitted: NO"), to=SENDER),
    Row("A06-params", _header("Auto-Submitted: no; x=1"), to=SENDER),
    Row("A06-comment", _header("Auto-Submitted: no (human)"), to=SENDER),
    Row(
        "A07",
        _header("Auto-Submitted: no", "Auto-Submitted: auto-replied"),
        reason="Auto-Submitted: auto-replied",
    ),
    Row("A08-bulk", _header("Precedence: bulk"), reason="Precedence: bulk"),
    Row("A08-junk", _header("Precedence: junk"), reason="Precedence: junk"),
    Row("A08-list", _header("Precedence: LIST"), reason="Precedence: list"),
    Row("A09-normal", _header("Precedence: normal"), to=SENDER),
    Row("A09-first-class", _header("Precedence: first-class"), to=SENDER),
    Row("A10-auto_reply", _header("Precedence: auto_reply"), reason="Precedence: auto_reply"),
    Row("A10-x-precedence", _header("X-Precedence: bulk"), reason="X-Precedence: bulk"),
    *(
        Row(f"A11-{name}", _header(f"{name}: <x@lists.cust.test>"), reason=f"{name} header")
        for name in (
            "List-Id",
            "List-Unsubscribe",
            "List-Post",
            "List-Help",
            "List-Subscribe",
            "List-Owner",
            "List-Archive",
        )
    ),
    Row("A12", person(return_path=""), reason="null Return-Path"),
    Row("A13", person(return_path=None), reason="no Return-Path: nowhere to answer"),
    *(
        Row(f"A14-{local}", person(return_path=f"{local}@cust.test"), reason="Return-Path is")
        for local in (
            "MAILER-DAEMON",
            "mailer-daemon",
            "postmaster",
            "LISTSERV",
            "majordomo",
            "owner-x",
            "x-request",
        )
    ),
    *(
        Row(f"A15-{local}", person(return_path=f"{local}@cust.test"), reason="Return-Path is")
        for local in ("noreply", "no-reply+123", "donotreply")
    ),
    Row(
        "A16",
        person(content_type=DSN[0], body=DSN[1], from_="Mail Delivery <mailer@cust.test>"),
        reason="delivery status report",
    ),
    Row("A17", person(content_type=MDN[0], body=MDN[1]), reason="disposition notification"),
    *(
        Row(f"A18-{value}", _header(f"X-Auto-Response-Suppress: {value}"), reason="Suppress")
        for value in ("All", "OOF", "AutoReply")
    ),
    *(
        Row(f"A19-{name}", _header(f"{name}: yes"), reason=f"{name} header")
        for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder")
    ),
    Row("A20-x-loop", _header("X-Loop: yes"), reason="X-Loop header"),
    Row(
        "A20-ours",
        _header(f"X-Mailroom-Loop: mailroom@{conf.MESSAGE_ID_DOMAIN}"),
        reason="X-Mailroom-Loop header",
    ),
    Row(
        "A21",
        person(message_id=f"<abc.1@{conf.MESSAGE_ID_DOMAIN}>"),
        reason="our own mail",
    ),
    Row("A22-own", person(return_path="support@example.test"), reason="system mailbox"),
    Row("A30", _header("X-Spam-Flag: YES"), reason="X-Spam-Flag: YES"),
    Row("A31", person(subject="Auto: hello"), to=SENDER),
    Row("A32", _header("Reply-To: list@x.test", "Cc: carol@cust.test"), to=SENDER),
    Row("A33", person(from_="a@x.test, b@y.test"), to=SENDER),
    Row(
        "A40-dated",
        person(date=timezone.now() - timedelta(days=3)),
        reason="stale: dated 72 hours ago",
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_the_contract_row(row: Row, rig: Rig) -> None:
    (record,) = rig.deliver(row.mail)

    assert record.rule_hits == ["Acknowledge"], record.steps
    if row.to is None:
        assert row.reason in detail(record), detail(record)
        assert "suppressed" in detail(record)
        assert rig.sink.messages == []
        assert not OutboxMessage.objects.exists()
    else:
        assert f"reply queued to {row.to}" in detail(record), detail(record)
        (answer,) = rig.answers
        # One recipient, the Return-Path (section 3.1.3, section 4): never Reply-To or Cc.
        assert answer.rcpt_tos == [row.to]
        assert parsed(answer)["To"] == row.to
        assert parsed(answer)["Cc"] is None
        assert parsed(answer)["Bcc"] is None


def test_a01_the_answer_carries_every_outbound_header(rig: Rig) -> None:
    # A01, A34 and the list under section 2.3: every field of the answer in one test.
    original = person(
        "References: <r1@cust.test> <r2@cust.test>",
        message_id="<m1@cust.test>",
        subject="Question about my order",
    )
    (record,) = rig.deliver(original)

    (answer,) = rig.answers
    reply = parsed(answer)
    assert answer.mail_from == "<>"
    assert answer.rcpt_tos == [SENDER]
    assert "NOTIFY=NEVER" in answer.rcpt_options
    assert reply["From"] == "Support <support@example.test>"
    assert reply["To"] == SENDER
    assert reply["Subject"] == "Auto: Question about my order"
    assert reply["Date"] is not None
    assert re.fullmatch(rf"<[^<>@\s]+@{re.escape(conf.MESSAGE_ID_DOMAIN)}>", reply["Message-ID"])
    assert reply["In-Reply-To"] == "<m1@cust.test>"
    assert reply["References"].split() == ["<r1@cust.test>", "<r2@cust.test>", "<m1@cust.test>"]
    assert reply["Auto-Submitted"] == "auto-replied"
    assert reply["X-Auto-Response-Suppress"] == "All"
    assert reply["Precedence"] == "bulk"
    assert reply["X-Mailroom-Loop"] == f"mailroom@{conf.MESSAGE_ID_DOMAIN}"
    assert reply["MIME-Version"] == "1.0"
    assert reply.get_content_type() == "text/plain"
    assert reply.get_content_charset() == "utf-8"
    for absent in ("Cc", "Bcc", "Reply-To", "Sender"):
        assert reply[absent] is None
    assert OutboxMessage.objects.get().state == OutboxState.SENT
    assert AnswerRecord.objects.get().address == SENDER
    assert "reply queued" in detail(record)


def test_a13_mail_without_a_return_path_is_not_answered_yet_becomes_a_case(rig: Rig) -> None:
    # "SUPPRESS" is about the answer only: the message is a person's, and its Case is made.
    Mailbox.objects.filter(pk=rig.mailbox.pk).update(processor_kind="case")
    (record,) = rig.deliver(person(return_path=None, subject="My printer is broken"))

    assert "no Return-Path: nowhere to answer" in detail(record)
    assert record.automated_reason == ""
    assert rig.sink.messages == []
    case = Case.objects.get()
    assert case.subject == "My printer is broken"
    assert record.message.from_email == SENDER


def test_a13_with_the_from_fallback_a_single_plausible_author_is_answered(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # For servers that hide the Return-Path (docs/autoresponse.md): off by default (A13).
    monkeypatch.setattr(conf, "AUTORESPONSE_FROM_FALLBACK", True)

    answered, role, two = rig.deliver(
        person(return_path=None),
        person(return_path=None, from_="Info <info@cust.test>"),
        person(return_path=None, from_="a@cust.test, b@cust.test"),
    )

    assert f"reply queued to {SENDER}" in detail(answered)
    assert "no usable Return-Path" in detail(role)
    assert "no usable Return-Path" in detail(two)
    (answer,) = rig.answers
    assert answer.rcpt_tos == [SENDER]
    assert answered.automated_reason == ""


def test_a35_an_answer_to_mail_without_message_id_has_no_in_reply_to(rig: Rig) -> None:
    rig.deliver(person(message_id=None))

    (answer,) = rig.answers
    assert parsed(answer)["In-Reply-To"] is None
    assert parsed(answer)["References"] is None


def test_a36_an_encoded_line_break_in_the_subject_injects_no_header(rig: Rig) -> None:
    rig.deliver(person(subject="=?UTF-8?Q?Hi=0ABcc:_x@evil.test?="))

    (answer,) = rig.answers
    assert answer.rcpt_tos == [SENDER]
    head = answer.data.split(b"\r\n\r\n", 1)[0]
    assert len(re.findall(rb"(?im)^subject:", head)) == 1
    assert not re.search(rb"(?im)^bcc:", head)


def test_a37_a_long_non_ascii_subject_is_encoded_without_cutting_a_word(rig: Rig) -> None:
    subject = "Überweisung für Rechnung Nr. 4711 à bitte prüfen " * 6
    rig.deliver(person(subject=subject.strip()))

    (answer,) = rig.answers
    head = answer.data.split(b"\r\n\r\n", 1)[0].decode("ascii")
    folded = re.search(r"(?ms)^Subject:(.*?)(?=^\S)", head)
    assert folded is not None
    for line in f"Subject:{folded.group(1)}".split("\r\n"):
        assert len(line) <= 78, line
        for word in re.findall(r"=\?[^?]+\?[bBqQ]\?[^?]*\?=", line):
            assert len(word) <= 75
    decoded = str(make_header(decode_header(folded.group(1).replace("\r\n", ""))))
    assert decoded == f"Auto: {subject.strip()}"


def test_a38_the_answer_has_no_attachment_and_does_not_quote_the_body(rig: Rig) -> None:
    html = "<p>" + "Sehr lange Nachricht. " * 100_000 + "</p>"
    body = (
        "--b2\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        f"{html}\r\n"
        "--b2\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; "
        'filename="order.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n'
        "--b2--"
    )
    rig.deliver(person(content_type='multipart/mixed; boundary="b2"', body=body))

    (answer,) = rig.answers
    assert len(answer.data) < 4096
    assert not parsed(answer).is_multipart()
    assert b"Sehr lange" not in answer.data
    assert b"order.pdf" not in answer.data


def test_a22_mail_from_another_mailroom_mailbox_is_not_answered(rig: Rig) -> None:
    # Another mailbox of this installation (not synced here: it has no folders).
    Mailbox.objects.create(label="Sales", email="sales@example.test")
    (record,) = rig.deliver(person(return_path="Sales@Example.test"))

    assert "the sender is a system mailbox" in detail(record)
    assert rig.sink.messages == []


@pytest.mark.parametrize("whose", ["another mailbox's", "this mailbox's"])
def test_a22_mail_from_an_alias_of_a_mailroom_mailbox_is_not_answered(rig: Rig, whose: str) -> None:
    if whose == "this mailbox's":
        Mailbox.objects.filter(pk=rig.mailbox.pk).update(aliases="help@example.test")
    else:
        Mailbox.objects.create(
            label="Sales",
            email="sales@example.test",
            aliases="orders@example.test\nhelp@example.test",
        )
    (record,) = rig.deliver(person(return_path="Help@Example.test"))

    assert "the sender is a system mailbox" in detail(record)
    assert rig.sink.messages == []


def test_a23_a_sender_is_answered_once_per_rule_within_the_window(rig: Rig) -> None:
    first, second = rig.deliver(person(), person(subject="And another thing"))

    assert len(rig.answers) == 1
    assert "reply queued" in detail(first)
    assert f"already answered {SENDER} within 7 days" in detail(second)
    assert AnswerRecord.objects.get().claims == 1


def test_a23_the_window_passed_the_sender_is_answered_again(rig: Rig) -> None:
    rig.deliver(person())
    AnswerRecord.objects.update(answered_at=timezone.now() - timedelta(days=8))

    (record,) = rig.deliver(person(subject="A week later"))

    assert len(rig.answers) == 2
    assert "reply queued" in detail(record)
    assert AnswerRecord.objects.get().claims == 2


def test_a24_another_rule_answers_the_same_sender(rig: Rig) -> None:
    condition = rig.rule.conditions.get()
    condition.value = "order"
    condition.save()
    add_rule(rig.mailbox, "Invoices", contains="invoice")

    first, second = rig.deliver(person(subject="My order"), person(subject="My invoice"))

    assert len(rig.answers) == 2
    assert "Acknowledge: reply queued" in detail(first)
    assert "Invoices: reply queued" in detail(second)


def test_a25_the_sender_address_is_compared_without_case(rig: Rig) -> None:
    _first, second = rig.deliver(
        person(return_path="Alice@Cust.TEST"), person(subject="Again", return_path=SENDER)
    )

    assert len(rig.answers) == 1
    assert "already answered" in detail(second)
    assert AnswerRecord.objects.get().address == "alice@cust.test"


def test_a26_a_refused_answer_does_not_count(rig: Rig) -> None:
    rig.sink.script(["550 5.1.1 no such user"])
    rig.deliver(person())
    assert OutboxMessage.objects.get().state == OutboxState.FAILED

    (record,) = rig.deliver(person(subject="Trying again"))

    assert "reply queued" in detail(record)
    assert len(rig.answers) == 1
    assert len(rig.sink.messages) == 2


@pytest.mark.parametrize("senders", [6, 40], ids=["A27-cap", "A28-forged-senders"])
def test_a27_a28_the_mailbox_cap_suppresses_the_excess_and_alerts_once(
    senders: int, rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conf, "AUTORESPONSE_MAX_PER_HOUR", 3)
    mails = [person(return_path=f"user{n}@forged{n}.test") for n in range(senders)]

    records = rig.deliver(*mails)
    rig.deliver(person(return_path="late@cust.test"))

    assert len(rig.answers) == 3
    capped = [r for r in records if "limit of 3 answers an hour" in detail(r)]
    assert len(capped) == senders - 3
    assert "reply suppressed" in detail(capped[0])
    (alert,) = Alert.objects.filter(key="autoresponse-cap")
    assert alert.resolved_at is None
    assert "MAILROOM_AUTORESPONSE_MAX_PER_HOUR" in alert.text


def test_a27_the_cap_alert_is_resolved_when_answering_resumes_and_raised_again(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conf, "AUTORESPONSE_MAX_PER_HOUR", 2)
    rig.deliver(*(person(return_path=f"a{n}@cust.test") for n in range(3)))
    assert Alert.objects.get(key="autoresponse-cap").resolved_at is None

    # An hour later the count is below the cap again: the next answer resolves the alert.
    AnswerRecord.objects.update(answered_at=timezone.now() - timedelta(hours=2))
    rig.deliver(person(return_path="b1@cust.test"))
    assert Alert.objects.get(key="autoresponse-cap").resolved_at is not None

    rig.deliver(*(person(return_path=f"c{n}@cust.test") for n in range(3)))
    assert Alert.objects.filter(key="autoresponse-cap").count() == 2
    assert Alert.objects.filter(key="autoresponse-cap", resolved_at__isnull=True).count() == 1


def test_a29_mail_not_addressed_to_the_mailbox_is_not_answered_by_default(rig: Rig) -> None:
    # A29 is a policy switch: a Bcc copy or a catch-all's mail is not answered unless the rule
    # says so (RFC 3834 §2; Pigeonhole checks the recipient by default too).
    (record,) = rig.deliver(person(to="someone-else@example.test"))

    assert "not addressed to support@example.test or an alias of it" in detail(record)
    assert rig.sink.messages == []


def test_a29_mail_to_an_alias_of_the_mailbox_is_answered(rig: Rig) -> None:
    Mailbox.objects.filter(pk=rig.mailbox.pk).update(aliases="help@example.test")
    (record,) = rig.deliver(person(to="Help Desk <HELP@example.test>"))

    assert "reply queued" in detail(record)


def test_a29_a_rule_set_to_answer_unaddressed_mail_answers_it(rig: Rig) -> None:
    rig.rule.answer_unaddressed = True
    rig.rule.save(update_fields=["answer_unaddressed"])
    (record,) = rig.deliver(person(to="someone-else@example.test"))

    assert "reply queued" in detail(record)


def test_a30_mail_in_the_junk_folder_is_not_read(rig: Rig) -> None:
    rig.account.create_folder("Junk")

    rig.deliver(person(), folder="Junk")

    assert not Message.objects.exists()
    assert rig.sink.messages == []


def test_a39_a_message_stored_twice_is_answered_once(rig: Rig) -> None:
    mail = person()
    rig.deliver(mail)
    rig.deliver(mail)

    assert len(rig.answers) == 1
    assert Message.objects.count() + MessageCopy.objects.count() == 2


def test_a40_mail_that_arrived_long_ago_is_not_answered(rig: Rig) -> None:
    # The backlog after an outage: the mailbox was connected days ago, the mail arrived on the
    # server 30 hours ago while mailroom was away (older mail would be history, F22).
    rig.deliver()
    connected = timezone.now() - timedelta(days=3)
    Mailbox.objects.filter(pk=rig.mailbox.pk).update(account_started_at=connected)
    Folder.objects.filter(mailbox=rig.mailbox).update(history_before=connected)
    arrived = timezone.now() - timedelta(hours=30)

    (record,) = rig.deliver(person(date=arrived), arrived=arrived)

    assert "stale: arrived 30 hours ago" in detail(record)
    assert rig.sink.messages == []


def test_f22_a_backlog_after_an_outage_gets_its_cases_and_no_answers(rig: Rig) -> None:
    # threats.md F22: forty mails of different senders piled up on the server for 30 hours
    # while mailroom was away: each becomes a Case (the work is not lost), none is answered
    # (a day-old "we got your message" is noise, and a flood of them backscatter).
    Mailbox.objects.filter(pk=rig.mailbox.pk).update(processor_kind="case")
    rig.deliver()
    connected = timezone.now() - timedelta(days=3)
    Mailbox.objects.filter(pk=rig.mailbox.pk).update(account_started_at=connected)
    Folder.objects.filter(mailbox=rig.mailbox).update(history_before=connected)
    arrived = timezone.now() - timedelta(hours=30)
    backlog = [
        person(date=arrived, subject=f"Order {n}", return_path=f"c{n}@cust{n}.test")
        for n in range(40)
    ]

    records = rig.deliver(*backlog, arrived=arrived)

    assert len(records) == 40
    assert all("stale: arrived 30 hours ago" in detail(r) for r in records)
    assert rig.sink.messages == []
    assert Case.objects.filter(subject__startswith="Order ").count() == 40


def test_a40_a_sender_clock_a_little_off_or_in_the_future_is_answered(rig: Rig) -> None:
    late, early = rig.deliver(
        person(date=timezone.now() - timedelta(hours=25)),
        person(date=timezone.now() + timedelta(days=2), return_path="bob@cust.test"),
    )

    assert "reply queued" in detail(late)
    assert "reply queued" in detail(early)


def test_a41_a_vacation_responder_without_headers_gets_one_answer(rig: Rig) -> None:
    rig.deliver(person())
    for round_ in range(4):
        # The other side answers each of our messages, setting no header at all.
        (ours,) = rig.answers[-1:]
        rig.deliver(
            person(
                f"In-Reply-To: {parsed(ours)['Message-ID']}",
                subject=f"I am away (round {round_})",
            )
        )

    assert len(rig.answers) == 1
    assert Message.objects.count() == 5


def _bounce_of(answer: bytes) -> bytes:
    """A delivery status report from the recipient's server quoting our answer's headers."""
    headers = answer.split(b"\r\n\r\n", 1)[0].decode("ascii")
    body = (
        "--b3\r\nContent-Type: text/plain\r\n\r\nDelivery to alice failed.\r\n"
        "--b3\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.cust.test\r\n\r\nFinal-Recipient: rfc822; alice@cust.test\r\n"
        "Action: failed\r\nStatus: 5.2.2\r\n\r\n"
        f"--b3\r\nContent-Type: text/rfc822-headers\r\n\r\n{headers}\r\n\r\n--b3--"
    )
    return person(
        return_path="",
        from_="Mail Delivery System <MAILER-DAEMON@mx.cust.test>",
        subject="Undelivered Mail Returned to Sender",
        content_type='multipart/report; report-type=delivery-status; boundary="b3"',
        body=body,
    )


def test_a42_a_bounce_of_our_answer_is_not_answered_and_blocks_the_recipient(rig: Rig) -> None:
    rig.deliver(person())
    (ours,) = rig.answers

    (record,) = rig.deliver(_bounce_of(ours.data))

    assert "our answer to alice@cust.test bounced: not answered for 60 days" in detail(record)
    assert len(rig.answers) == 1
    assert AnswerRecord.objects.get().bounced_at is not None
    # A week later the window would allow an answer again; the bounce still blocks it.
    AnswerRecord.objects.update(answered_at=timezone.now() - timedelta(days=8))
    (later,) = rig.deliver(person(subject="Did you get my mail?"))
    assert "an answer to alice@cust.test bounced in the last 60 days" in detail(later)
    assert len(rig.answers) == 1


def test_a28_the_cap_of_all_mailboxes_together_bounds_a_flood_spread_over_mailboxes(
    rig: Rig, dovecot: DovecotServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Forged senders spread over two mailboxes, each well under its own cap (100): together
    # they reach the site-wide cap, and nothing more goes out of either.
    monkeypatch.setattr(conf, "AUTORESPONSE_MAX_PER_HOUR_ALL", 5)
    username, password = f"sales-{secrets.token_hex(4)}@example.test", secrets.token_urlsafe(12)
    dovecot.add_user(username, password)
    account = ImapAccount(dovecot.host, dovecot.port, username, password, dovecot)
    with SmtpSink(username=username, password=password, auth_required=True) as sink:
        sales = add_mailbox("Sales", "sales@example.test", account, sink)
        other = Rig(account, sink, sales, add_rule(sales))

        first = rig.deliver(*(person(return_path=f"a{n}@forged{n}.test") for n in range(3)))
        second = other.deliver(
            *(person(to="sales@example.test", return_path=f"b{n}@forged{n}.test") for n in range(4))
        )

        assert (len(rig.answers), len(other.answers)) == (3, 2)
        assert all("reply queued" in detail(record) for record in first)
        capped = [r for r in second if "for all mailboxes together is reached" in detail(r)]
        assert len(capped) == 2
        assert "reply suppressed: the limit of 5 answers an hour" in detail(capped[0])
        (alert,) = Alert.objects.filter(key="autoresponse-cap-all")
        assert alert.mailbox_id == sales.pk and alert.resolved_at is None
        assert "MAILROOM_AUTORESPONSE_MAX_PER_HOUR_ALL" in alert.text
        # The first mailbox is held back too now, and says which cap holds.
        (late,) = rig.deliver(person(return_path="late@cust.test"))
        assert "for all mailboxes together is reached" in detail(late)
        assert len(rig.answers) == 3

        # An hour later the mailbox answers again, and its open alert is resolved.
        AnswerRecord.objects.update(answered_at=timezone.now() - timedelta(hours=2))
        (again,) = other.deliver(person(to="sales@example.test", return_path="c@cust.test"))
        assert "reply queued" in detail(again)
        assert Alert.objects.get(key="autoresponse-cap-all", mailbox=sales).resolved_at is not None
        assert len(other.answers) == 3
