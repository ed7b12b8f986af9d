"""compose_reply: what an autoresponse carries (docs/autoresponder.md A34-A37 and the list below
the table), and that nothing from inbound mail can add a header to it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.header import decode_header
from typing import Any

import pytest

from mailroom.mime.compose import compose_reply, make_message_id
from mailroom.mime.parse import Address, parse_message
from tests.mime.helpers import build

DATE = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def _reply(**overrides: Any) -> bytes:
    arguments: dict[str, Any] = {
        "from_name": "Support",
        "from_email": "support@crm.test",
        "to_email": "alice@cust.test",
        "subject": "Auto: Question",
        "text": "We got your message.\n",
        "html": None,
        "message_id": "<reply1@crm.test>",
        "in_reply_to": "<m1@x.test>",
        "references": ["<r1@x.test>", "<r2@x.test>"],
        "loop_token": "instance-7",
        "date": DATE,
    }
    arguments.update(overrides)
    return compose_reply(**arguments)


def _header_lines(raw: bytes) -> list[str]:
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    return head.split("\r\n")


def _headers(raw: bytes) -> dict[str, str]:
    """Top-level header names (lower-case) to unfolded values, asserting each occurs once."""
    fields: list[tuple[str, str]] = []
    for line in _header_lines(raw):
        if line[0] in " \t":
            name, value = fields[-1]
            fields[-1] = (name, value + line)
        else:
            name, _colon, value = line.partition(": ")
            fields.append((name.lower(), value))
    names = [name for name, _value in fields]
    assert len(names) == len(set(names)), names
    return dict(fields)


def test_it_carries_every_field_an_autoresponse_must_carry() -> None:
    raw = _reply()
    assert _headers(raw) == {
        "from": "Support <support@crm.test>",
        "to": "alice@cust.test",
        "subject": "Auto: Question",
        "date": "Wed, 04 Mar 2026 05:06:07 +0000",
        "message-id": "<reply1@crm.test>",
        "in-reply-to": "<m1@x.test>",
        "references": "<r1@x.test> <r2@x.test> <m1@x.test>",
        "auto-submitted": "auto-replied",
        "x-auto-response-suppress": "All",
        "precedence": "bulk",
        "x-mailroom-loop": "instance-7",
        "mime-version": "1.0",
        "content-type": 'text/plain; charset="utf-8"',
        "content-transfer-encoding": "quoted-printable",
    }


def test_it_writes_crlf_line_endings_and_only_ascii() -> None:
    raw = _reply(subject="Auto: Grüße", text="Grüße\nund Dank\n", html="<p>Grüße</p>")
    assert raw.isascii()
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert b"\r" not in raw.replace(b"\r\n", b"")


def test_it_threads_the_response_under_the_inbound_message() -> None:
    # A34
    headers = _headers(_reply(in_reply_to="<m1@x>", references=["<r1>", "<r2>"]))
    assert headers["in-reply-to"] == "<m1@x>"
    assert headers["references"] == "<r1> <r2> <m1@x>"


def test_it_leaves_out_in_reply_to_when_the_inbound_message_had_no_id() -> None:
    # A35
    headers = _headers(_reply(in_reply_to="", references=["<r1@x.test>"]))
    assert "in-reply-to" not in headers
    assert headers["references"] == "<r1@x.test>"
    headers = _headers(_reply(in_reply_to="", references=[]))
    assert "in-reply-to" not in headers
    assert "references" not in headers


def test_it_does_not_repeat_the_parent_already_last_in_references() -> None:
    headers = _headers(_reply(in_reply_to="<m1@x.test>", references=["<r1@x.test>", "<m1@x.test>"]))
    assert headers["references"] == "<r1@x.test> <m1@x.test>"


def test_it_drops_inbound_ids_that_are_not_plain_msg_ids() -> None:
    headers = _headers(
        _reply(in_reply_to="<a b@x>", references=["<ok@x.test>", "garbage", "<ü@x.test>"])
    )
    assert "in-reply-to" not in headers
    assert headers["references"] == "<ok@x.test>"


def test_it_keeps_an_injected_subject_on_one_line() -> None:
    # A36: the inbound subject decodes to "Hi\nBcc: x@evil.test" before parse_message cleans it.
    inbound = parse_message(build("Subject: =?UTF-8?Q?Hi=0ABcc:_x@evil.test?="))
    raw = _reply(subject=f"Auto: {inbound.subject}")
    lines = _header_lines(raw)
    assert [line for line in lines if line.lower().startswith("subject:")] == [
        "Subject: Auto: HiBcc: x@evil.test"
    ]
    assert not any(line.lower().startswith("bcc") for line in lines)
    assert "bcc" not in _headers(raw)


INJECTED_WORD = "=?UTF-8?Q?Hi=0ABcc:_x@evil.test?="


def test_it_does_not_decode_an_encoded_word_written_as_text_into_a_header_break() -> None:
    # CVE-2024-6923 on this Python: msg["Subject"] = "Auto: " + INJECTED_WORD, assigned as a
    # plain str, is written as "Subject: Auto: Hi" and "Bcc: x@evil.test". The text can reach
    # us double-encoded in an inbound Subject, or as-is in a Message-ID.
    inbound = parse_message(
        build(
            "Subject: =?UTF-8?Q?=3D=3FUTF-8=3FQ=3FHi=3D0ABcc:=5Fx@evil.test=3F=3D?=",
            "Message-ID: <=?utf-8?q?a=0ABcc:_y@evil.test?=@x.test>",
            "References: <=?utf-8?q?a=0ABcc:_z@evil.test?=@x.test>",
        )
    )
    assert inbound.subject == INJECTED_WORD
    raw = _reply(
        from_name=INJECTED_WORD,
        subject=f"Auto: {inbound.subject}",
        in_reply_to=inbound.message_id,
        references=inbound.references,
        loop_token=INJECTED_WORD,
    )
    headers = _headers(raw)
    assert "bcc" not in headers
    reparsed = parse_message(raw)
    assert reparsed.subject == f"Auto: {INJECTED_WORD}"
    assert reparsed.from_ == [Address(INJECTED_WORD, "support@crm.test")]
    assert reparsed.in_reply_to == "<=?utf-8?q?a=0ABcc:_y@evil.test?=@x.test>"
    assert reparsed.header("X-Mailroom-Loop") == INJECTED_WORD


def test_it_folds_a_long_references_chain_between_ids() -> None:
    references = [f"<{index:040d}@x.test>" for index in range(30)]
    raw = _reply(references=references, in_reply_to="<m1@x.test>")
    assert all(len(line) <= 78 for line in _header_lines(raw))
    assert parse_message(raw).references == [*references, "<m1@x.test>"]


def test_it_encodes_a_long_ascii_subject_and_keeps_it_intact() -> None:
    subject = "Auto: " + "word " * 40
    raw = _reply(subject=subject)
    assert all(len(line) <= 78 for line in _header_lines(raw))
    assert parse_message(raw).subject == subject.strip()


def test_it_requires_a_loop_token() -> None:
    with pytest.raises(ValueError, match="loop_token is empty"):
        _reply(loop_token="\r\n")


@pytest.mark.parametrize("subject", ["a\r\nBcc: x@evil.test", "a\nBcc: x", "a\x0bBcc: x", "a\x00"])
def test_it_removes_line_breaks_from_a_raw_subject(subject: str) -> None:
    headers = _headers(_reply(subject=subject))
    assert "bcc" not in headers
    assert "\x00" not in headers["subject"]


def test_it_encodes_a_long_non_ascii_subject_without_cutting_characters() -> None:
    # A37
    subject = "Auto: " + ("Grüße aus Köln — 日本語のテキスト " * 20)[:294]
    raw = _reply(subject=subject)
    subject_lines: list[str] = []
    for line in _header_lines(raw):
        if line.startswith("Subject:") or (subject_lines and line[0] == " "):
            subject_lines.append(line)
        elif subject_lines:
            break
    assert len(subject_lines) > 3
    assert all(len(line) <= 76 for line in subject_lines)
    words = re.findall(r"=\?[^?]+\?[bBqQ]\?[^?]*\?=", "".join(subject_lines))
    # RFC 2047 section 2: at most 75 characters per encoded word.
    assert words and all(len(word) <= 75 for word in words)
    # Each encoded word decodes to whole UTF-8 characters on its own.
    for word in words:
        [(data, charset)] = decode_header(word)
        assert isinstance(data, bytes) and charset == "utf-8"
        data.decode("utf-8")
    assert parse_message(raw).subject == subject


@pytest.mark.parametrize(
    "name",
    ["Support Team, Inc.", "Süpport Team, Inc.", 'Support "Desk"', "Support (Team)", "Ünï " * 30],
)
def test_it_keeps_a_display_name_with_specials_one_address(name: str) -> None:
    # policy.SMTP alone writes "Süpport Team, Inc." as =?utf-8?q?S=C3=BCpport?= Team, Inc.
    raw = _reply(from_name=name)
    assert parse_message(raw).from_ == [Address(" ".join(name.split()), "support@crm.test")]
    stdlib = message_from_bytes(raw, policy=policy.default)
    assert [a.addr_spec for a in stdlib["From"].addresses] == ["support@crm.test"]


def test_it_removes_line_breaks_from_the_display_name() -> None:
    raw = _reply(from_name="Support\r\nBcc: x@evil.test")
    assert "bcc" not in _headers(raw)
    assert parse_message(raw).from_ == [Address("SupportBcc: x@evil.test", "support@crm.test")]


@pytest.mark.parametrize(
    "address",
    [
        "alice@cust.test\r\nBcc: x@evil.test",
        "alice@cust.test, x@evil.test",
        "Alice <alice@cust.test>",
        "alice",
        "",
        "alïce@cust.test",
    ],
)
@pytest.mark.parametrize("field", ["to_email", "from_email"])
def test_it_refuses_anything_but_one_plain_address(field: str, address: str) -> None:
    with pytest.raises(ValueError, match="not a single plain address"):
        _reply(**{field: address})


@pytest.mark.parametrize("message_id", ["", "reply1@crm.test", "<a b@x>", "<a@x>\r\nBcc: y"])
def test_it_refuses_a_message_id_that_is_not_one(message_id: str) -> None:
    with pytest.raises(ValueError, match="not a Message-ID"):
        _reply(message_id=message_id)


def test_it_sends_html_as_an_alternative_to_the_text() -> None:
    raw = _reply(text="Danke für Ihre Nachricht.\n", html="<p>Danke für Ihre Nachricht.</p>")
    assert _headers(raw)["content-type"].startswith("multipart/alternative;")
    parsed = parse_message(raw)
    assert parsed.text_body == "Danke für Ihre Nachricht.\n"
    assert parsed.html_body == "<p>Danke für Ihre Nachricht.</p>\n"
    assert parsed.attachments == []


def test_it_reparses_to_the_same_subject_and_ids() -> None:
    message_id = make_message_id("crm.test")
    raw = _reply(subject="Auto: Ärger mit der Rechnung", message_id=message_id)
    parsed = parse_message(raw)
    assert parsed.subject == "Auto: Ärger mit der Rechnung"
    assert parsed.message_id == message_id
    assert parsed.in_reply_to == "<m1@x.test>"
    assert parsed.references == ["<r1@x.test>", "<r2@x.test>", "<m1@x.test>"]
    assert parsed.to == [Address("", "alice@cust.test")]
    assert parsed.date == DATE
    assert parsed.defects == []


def test_it_makes_unique_message_ids_on_the_given_domain() -> None:
    first, second = make_message_id("CRM.test"), make_message_id("crm.test")
    assert re.fullmatch(r"<[0-9a-f]{32}@crm\.test>", first)
    assert first != second


@pytest.mark.parametrize("domain", ["", "crm.test\r\nBcc: x", "a b", "<crm.test>"])
def test_it_refuses_a_message_id_domain_that_is_not_one(domain: str) -> None:
    with pytest.raises(ValueError, match="not a domain name"):
        make_message_id(domain)
