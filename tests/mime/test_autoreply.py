"""Loop safety: the rows of docs/autoresponder.md section 2.3 a message decides on its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mailroom.mime.autoreply import (
    automated_reason,
    from_fallback_refusal,
    names_recipient,
    reply_address,
    stale_reason,
)
from mailroom.mime.parse import ParsedMessage, parse_message
from tests.mime.helpers import build, corpus_files

HUMAN = ("Return-Path: <alice@cust.test>", "From: Alice <alice@cust.test>", "To: support@crm.test")


def _message(
    *headers: str, base: tuple[str, ...] = HUMAN, body: str = "Hello.\r\n"
) -> ParsedMessage:
    return parse_message(build(*base, "Subject: Question", *headers, body=body))


def test_it_answers_a_plain_human_message_at_its_return_path() -> None:
    # A01
    msg = _message()
    assert automated_reason(msg) is None
    assert reply_address(msg) == "alice@cust.test"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("auto-replied", "Auto-Submitted: auto-replied"),  # A02
        ("auto-generated", "Auto-Submitted: auto-generated"),  # A03
        ("auto-notified", "Auto-Submitted: auto-notified"),  # A04
        ("x-foo", "Auto-Submitted: x-foo"),  # A05
        ("yes", "Auto-Submitted: yes"),  # A05
        ("", "Auto-Submitted: (empty)"),  # A05
        ("(", "Auto-Submitted: ("),  # A05, unparseable
        ("Auto-Replied (vacation)", "Auto-Submitted: auto-replied"),  # Pigeonhole's form
        ("no-thanks", "Auto-Submitted: no-thanks"),
    ],
)
def test_it_suppresses_any_auto_submitted_value_but_no(value: str, reason: str) -> None:
    assert automated_reason(_message(f"Auto-Submitted: {value}")) == reason


@pytest.mark.parametrize("value", ["no", "NO", "no; x=1", "no (human)", " No "])
def test_it_answers_auto_submitted_no(value: str) -> None:
    # A06
    assert automated_reason(_message(f"Auto-Submitted: {value}")) is None


def test_it_suppresses_when_any_of_several_auto_submitted_fields_is_not_no() -> None:
    # A07
    msg = _message("Auto-Submitted: no", "Auto-Submitted: auto-replied")
    assert automated_reason(msg) == "Auto-Submitted: auto-replied"


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("Precedence: bulk", "Precedence: bulk"),  # A08
        ("Precedence: junk", "Precedence: junk"),  # A08
        ("Precedence: LIST", "Precedence: list"),  # A08
        ("Precedence: auto_reply", "Precedence: auto_reply"),  # A10
        ("X-Precedence: bulk", "X-Precedence: bulk"),  # A10
    ],
)
def test_it_suppresses_bulk_precedence(header: str, reason: str) -> None:
    assert automated_reason(_message(header)) == reason


@pytest.mark.parametrize("value", ["normal", "first-class", "urgent"])
def test_it_answers_normal_precedence(value: str) -> None:
    # A09
    assert automated_reason(_message(f"Precedence: {value}")) is None


@pytest.mark.parametrize(
    "header",
    [
        "List-Id: <news.acme.test>",
        "List-Unsubscribe: <mailto:leave@acme.test>",
        "List-Post: <mailto:news@acme.test>",
        "List-Help: <mailto:help@acme.test>",
        "List-Subscribe: <mailto:join@acme.test>",
        "List-Owner: <mailto:owner@acme.test>",
        "List-Archive: <https://acme.test/archive>",
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
    ],
)
def test_it_suppresses_list_mail(header: str) -> None:
    # A11: one test per header.
    name = header.split(":", 1)[0]
    assert automated_reason(_message(header)) == f"{name} header"


@pytest.mark.parametrize("sender", ["MAILER-DAEMON <>", "<>", "Mail System < >"])
def test_a_from_of_the_null_sender_is_automatic_mail(sender: str) -> None:
    msg = parse_message(build(f"From: {sender}", "Subject: Mail delivery failed"))
    assert automated_reason(msg) == "sender is the null address <>"


@pytest.mark.parametrize("sender", ["Alice", "Alice <alice@cust.test>", '"<>" <alice@cust.test>'])
def test_a_from_without_the_null_address_is_no_robot(sender: str) -> None:
    msg = parse_message(build(f"From: {sender}", "Subject: Question"))
    assert automated_reason(msg) is None


def test_it_suppresses_a_null_return_path_and_has_nowhere_to_reply() -> None:
    # A12
    msg = _message(base=("Return-Path: <>", "From: alice@cust.test", "Reply-To: r@cust.test"))
    assert automated_reason(msg) == "null Return-Path"
    assert reply_address(msg) is None


def test_without_a_return_path_there_is_nowhere_to_answer_yet_the_mail_is_not_automatic() -> None:
    # A13: not to From, Reply-To or Sender either. Yet mail copied into a folder, or served by a
    # server that hides the Return-Path, is a person's all the same (a Lead or Case may follow).
    msg = _message(base=("From: alice@cust.test", "Reply-To: r@cust.test", "Sender: s@cust.test"))
    assert reply_address(msg) is None
    assert automated_reason(msg) is None


@pytest.mark.parametrize(
    "local",
    [
        "MAILER-DAEMON",
        "mailer-daemon",
        "postmaster",
        "LISTSERV",
        "majordomo",
        "owner-x",
        "x-request",
    ],
)
def test_it_suppresses_robot_return_paths(local: str) -> None:
    # A14
    msg = _message(base=(f"Return-Path: <{local}@cust.test>", "From: alice@cust.test"))
    assert automated_reason(msg) == f"Return-Path is {local}"


@pytest.mark.parametrize("local", ["noreply", "no-reply+123", "donotreply", "do-not-reply"])
def test_it_suppresses_noreply_return_paths(local: str) -> None:
    # A15 (house rule)
    msg = _message(base=(f"Return-Path: <{local}@cust.test>", "From: alice@cust.test"))
    assert automated_reason(msg) == f"Return-Path is {local}"


@pytest.mark.parametrize("local", ["owner", "request", "norepl", "replies", "mailer"])
def test_it_answers_ordinary_names_that_only_resemble_robots(local: str) -> None:
    msg = _message(base=(f"Return-Path: <{local}@cust.test>", f"From: {local}@cust.test"))
    assert automated_reason(msg) is None


def _report(report_type: str, part_type: str) -> ParsedMessage:
    body = (
        "--r\r\nContent-Type: text/plain\r\n\r\nReport.\r\n"
        f"--r\r\nContent-Type: {part_type}\r\n\r\nReporting-MTA: dns; mx.cust.test\r\n"
        "--r--\r\n"
    )
    content_type = f"Content-Type: multipart/report; report-type={report_type}; boundary=r"
    return _message(content_type, body=body)


def test_it_suppresses_a_delivery_status_notification() -> None:
    # A16
    assert automated_reason(_report("delivery-status", "message/delivery-status")) == (
        "delivery status report"
    )


def test_it_suppresses_a_disposition_notification() -> None:
    # A17
    msg = _report("disposition-notification", "message/disposition-notification")
    assert automated_reason(msg) == "disposition notification"


def test_it_suppresses_a_delivery_status_part_outside_a_report() -> None:
    body = "--r\r\nContent-Type: message/delivery-status\r\n\r\nAction: failed\r\n--r--\r\n"
    msg = _message("Content-Type: multipart/mixed; boundary=r", body=body)
    assert automated_reason(msg) == "message/delivery-status part"


@pytest.mark.parametrize("value", ["All", "OOF", "AutoReply", "DR, OOF, AutoReply", "oof"])
def test_it_honours_a_request_not_to_autoreply(value: str) -> None:
    # A18
    reason = automated_reason(_message(f"X-Auto-Response-Suppress: {value}"))
    assert reason == f"X-Auto-Response-Suppress: {value}"


@pytest.mark.parametrize("value", ["DR", "RN, NRN"])
def test_it_answers_when_only_receipts_are_suppressed(value: str) -> None:
    assert automated_reason(_message(f"X-Auto-Response-Suppress: {value}")) is None


@pytest.mark.parametrize(
    "header", ["X-Autoreply: yes", "X-Autorespond: anything", "X-Autoresponder: 1"]
)
def test_it_suppresses_autoresponder_markers(header: str) -> None:
    # A19
    name = header.split(":", 1)[0]
    assert automated_reason(_message(header)) == f"{name} header"


@pytest.mark.parametrize(
    "header", ["X-Loop: yes", "X-Mailroom-Loop: instance-1", "X-RT-Loop-Prevention: rt.test"]
)
def test_it_suppresses_loop_markers(header: str) -> None:
    # A20
    name = header.split(":", 1)[0]
    assert automated_reason(_message(header)) == f"{name} header"


def test_it_suppresses_spam() -> None:
    # A30 (the header part)
    assert automated_reason(_message("X-Spam-Flag: YES")) == "X-Spam-Flag: YES"
    assert automated_reason(_message("X-Spam-Flag: NO")) is None


def test_it_answers_a_subject_starting_with_auto() -> None:
    # A31: the prefix is not authoritative.
    msg = parse_message(build(*HUMAN, "Subject: Auto: hello"))
    assert automated_reason(msg) is None


@pytest.mark.parametrize(
    ("sender", "reason"),
    [
        ("Mail Delivery System <MAILER-DAEMON@mx.test>", "sender is MAILER-DAEMON"),
        ("AWS Notifications <no-reply@sns.amazonaws.com>", "sender is no-reply"),
        ("staff@hotmail.com", "sender is Microsoft JMRP complaint"),
    ],
)
def test_it_suppresses_robot_senders(sender: str, reason: str) -> None:
    msg = _message(base=("Return-Path: <bounce@cust.test>", f"From: {sender}"))
    assert automated_reason(msg) == reason


def test_it_suppresses_an_icloud_vacation_reply() -> None:
    assert automated_reason(_message("X-Apple-Action: VACATION")) == "X-Apple-Action: VACATION"


def test_it_replies_to_the_return_path_never_to_reply_to() -> None:
    # A32 and A33
    msg = parse_message(
        build("Return-Path: <alice@cust.test>", "From: a@x.test, b@y.test", "Reply-To: list@x.test")
    )
    assert reply_address(msg) == "alice@cust.test"


def test_it_has_no_reply_address_for_an_unusable_return_path() -> None:
    assert reply_address(parse_message(build("Return-Path: <MAILER-DAEMON>"))) is None
    assert reply_address(parse_message(build('Return-Path: <"a b"@cust.test>'))) is None


AUTOMATED = corpus_files("automated")


@pytest.mark.parametrize("path", AUTOMATED, ids=lambda path: path.name)
def test_it_never_answers_a_message_of_the_automated_corpus(path: Path) -> None:
    assert automated_reason(parse_message(path.read_bytes())) is not None


def test_it_answers_the_messages_that_only_look_like_bounces() -> None:
    names = ["sisimai-not__is-not-bounce-01.eml", "sisimai-not__is-not-bounce-02.eml"]
    paths = [path for path in corpus_files("mixed") if path.name in names]
    assert len(paths) == 2
    for path in paths:
        assert automated_reason(parse_message(path.read_bytes())) is None, path.name


# The From fallback for servers that hide the Return-Path (docs/autoresponse.md): each row is
# a message without Return-Path, and the address answered with the fallback on (None: none).
FALLBACK_ROWS = [
    ("plain author", ("From: Alice <alice@cust.test>",), "alice@cust.test"),
    ("Sender the same", ("From: alice@cust.test", "Sender: ALICE@cust.test"), "alice@cust.test"),
    (
        "Reply-To the same",
        ("From: alice@cust.test", "Reply-To: alice@cust.test"),
        "alice@cust.test",
    ),
    ("IDN domain", ("From: alice@xn--mller-kva.example",), "alice@xn--mller-kva.example"),
    ("two authors", ("From: a@cust.test, b@cust.test",), None),
    ("two From fields", ("From: a@cust.test", "From: b@cust.test"), None),
    ("no From", ("To: support@crm.test",), None),
    ("Sender differs", ("From: alice@cust.test", "Sender: news@mailer.test"), None),
    ("Reply-To differs", ("From: alice@cust.test", "Reply-To: other@cust.test"), None),
    ("robot", ("From: MAILER-DAEMON@cust.test",), None),
    ("noreply", ("From: no-reply@cust.test",), None),
    ("list owner", ("From: owner-news@cust.test",), None),
    ("role info", ("From: info@cust.test",), None),
    ("role support", ("From: Support <SUPPORT@cust.test>",), None),
    ("single-label domain", ("From: alice@localhost",), None),
    ("unroutable TLD", ("From: alice@host.invalid",), None),
    ("local TLD", ("From: alice@printer.local",), None),
    ("numeric TLD", ("From: alice@10.0.0.1",), None),
    ("bad label", ("From: alice@-cust.test",), None),
    ("quoted local part", ('From: "a b"@cust.test',), None),
    ("non-ASCII address", ("From: jörg@cust.test",), None),
]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [(headers, expected) for _name, headers, expected in FALLBACK_ROWS],
    ids=[name for name, _headers, _expected in FALLBACK_ROWS],
)
def test_it_falls_back_to_a_single_plausible_from_only_when_allowed(
    headers: tuple[str, ...], expected: str | None
) -> None:
    msg = parse_message(build(*headers, "Subject: Question"))
    assert reply_address(msg, from_fallback=True) == expected
    assert (from_fallback_refusal(msg) is None) == (expected is not None)
    # Off (the default), a message without Return-Path is never answered (A13).
    assert reply_address(msg, from_fallback=False) is None


def test_it_never_falls_back_when_the_return_path_is_there() -> None:
    # A null or unusable Return-Path is the sender saying "do not answer": never the From.
    for return_path in ("<>", "<MAILER-DAEMON>", '<"a b"@cust.test>'):
        msg = parse_message(build(f"Return-Path: {return_path}", "From: alice@cust.test"))
        assert reply_address(msg, from_fallback=True) is None


def test_a_hidden_return_path_is_no_sign_of_automatic_mail() -> None:
    msg = parse_message(build("From: alice@cust.test", "Subject: Question"))
    assert reply_address(msg) is None
    assert reply_address(msg, from_fallback=True) == "alice@cust.test"
    assert automated_reason(msg) is None
    # The other signs still are.
    robot = parse_message(build("From: alice@cust.test", "Auto-Submitted: auto-replied"))
    assert automated_reason(robot) == "Auto-Submitted: auto-replied"


NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)

# (name, arrived, dated, stale?) with a 24-hour limit and 2 hours of clock skew for the Date.
STALE_ROWS = [
    ("fresh", NOW - HOUR, NOW - HOUR, False),
    ("arrived long ago", NOW - 25 * HOUR, NOW - 25 * HOUR, True),
    ("backlog: written now, fetched after an outage", NOW - 30 * HOUR, NOW - 30 * HOUR, True),
    ("dated three days ago, arrived now", NOW - timedelta(minutes=1), NOW - 72 * HOUR, True),
    ("Date a little past the limit: clock skew", NOW, NOW - 25 * HOUR, False),
    ("Date past the limit and the skew", NOW, NOW - 27 * HOUR, True),
    ("Date in the future", NOW, NOW + 48 * HOUR, False),
    ("arrival in the future (server clock)", NOW + HOUR, NOW, False),
    ("no Date", NOW - HOUR, None, False),
    ("no Date, arrived long ago", NOW - 25 * HOUR, None, True),
    ("no arrival time", None, NOW - HOUR, False),
    ("no arrival time, dated long ago", None, NOW - 30 * HOUR, True),
    ("neither", None, None, False),
]


@pytest.mark.parametrize(
    ("arrived", "dated", "stale"),
    [(arrived, dated, stale) for _name, arrived, dated, stale in STALE_ROWS],
    ids=[row[0] for row in STALE_ROWS],
)
def test_it_judges_age_by_arrival_and_by_date(
    arrived: datetime | None, dated: datetime | None, stale: bool
) -> None:
    # A40 and the "dated three days ago, arrived now": both ages must be fresh.
    reason = stale_reason(arrived=arrived, dated=dated, now=NOW, max_age=24 * HOUR, skew=2 * HOUR)
    assert (reason is not None) == stale, reason


def test_it_says_which_age_was_too_old() -> None:
    by_arrival = stale_reason(
        arrived=NOW - 30 * HOUR, dated=NOW, now=NOW, max_age=24 * HOUR, skew=HOUR
    )
    by_date = stale_reason(
        arrived=NOW, dated=NOW - 72 * HOUR, now=NOW, max_age=24 * HOUR, skew=HOUR
    )
    assert by_arrival == "arrived 30 hours ago, over the 24-hour limit"
    assert by_date == "dated 72 hours ago, over the 24-hour limit"


@pytest.mark.parametrize(
    "header",
    [
        "X-Mailman-Version: 2.1.39",
        "X-BeenThere: news@lists.cust.test",
        "Mailing-List: contact news-help@lists.cust.test; run by ezmlm",
        "X-Mailing-List: linux-kernel@vger.kernel.org",
        "X-Listserver: CommuniGate Pro LIST 6.3",
        "X-List-Server: LISTPROC 8.2",
        "X-Ezmlm-Version: 0.53",
        "X-Sympa-To: news@lists.cust.test",
        "X-Lyris-Message-Id: <x@cust.test>",
    ],
)
def test_it_suppresses_mail_a_list_manager_distributed(header: str) -> None:
    # The list notice: marked only by a list server's own header. Any list manager's
    # header counts, not one product's.
    reason = automated_reason(_message(header))
    assert reason is not None and reason.endswith("header (a list manager)")


@pytest.mark.parametrize(
    "local",
    [
        "news-admin",
        "news-owner",
        "news-bounces",
        "news-bounces+alice=cust.test",
        "news-help",
        "mailman",
        "bounce",
        "bounces=x",
        "sympa",
    ],
)
def test_it_suppresses_the_addresses_list_managers_send_from(local: str) -> None:
    # The list notice came from an ...-admin address; every list-manager form counts.
    msg = _message(
        base=(f"Return-Path: <{local}@lists.cust.test>", f"From: {local}@lists.cust.test")
    )
    assert automated_reason(msg) is not None


@pytest.mark.parametrize("local", ["admiral", "helpful", "bob-administration", "owner"])
def test_it_answers_people_whose_names_only_look_like_list_addresses(local: str) -> None:
    msg = _message(base=(f"Return-Path: <{local}@cust.test>", f"From: {local}@cust.test"))
    assert automated_reason(msg) is None


@pytest.mark.parametrize(
    ("headers", "named"),
    [
        ("To: Support <SUPPORT@example.test>", True),
        ("To: someone@example.test\r\nCc: help@example.test", True),
        ("To: someone@example.test\r\nBcc: support@example.test", True),
        ("To: someone@example.test\r\nResent-To: support@example.test", True),
        ("To: someone@example.test\r\nResent-Cc: x@y.test, help@example.test", True),
        ("To: someone@example.test", False),
        ("To: support@example.test.evil.test", False),
        ("To: undisclosed-recipients:;", False),
        ("Delivered-To: support@example.test\r\nTo: someone@example.test", False),
    ],
)
def test_names_recipient_reads_only_the_recipient_fields(headers: str, named: bool) -> None:
    raw = f"From: ann@kunde.test\r\n{headers}\r\nSubject: Hi\r\n\r\nHello\r\n".encode()
    msg = parse_message(raw)
    assert names_recipient(msg, {"support@example.test", "help@example.test"}) is named
