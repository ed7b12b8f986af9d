"""Loop safety: the rows of docs/autoresponder.md section 2.3 a message decides on its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailroom.mime.autoreply import automated_reason, reply_address
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


def test_it_suppresses_a_null_return_path_and_has_nowhere_to_reply() -> None:
    # A12
    msg = _message(base=("Return-Path: <>", "From: alice@cust.test", "Reply-To: r@cust.test"))
    assert automated_reason(msg) == "null Return-Path"
    assert reply_address(msg) is None


def test_it_suppresses_without_a_return_path_and_never_falls_back() -> None:
    # A13: not to From, Reply-To or Sender either.
    msg = _message(base=("From: alice@cust.test", "Reply-To: r@cust.test", "Sender: s@cust.test"))
    assert automated_reason(msg) == "no Return-Path"
    assert reply_address(msg) is None


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
