"""parse_message: real-world corpus invariants, spot checks, and the hostile cases."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from mailroom.mime import parse
from mailroom.mime.parse import Address, AttachmentInfo, ParsedMessage, parse_message
from tests.mime.helpers import CORPUS, build, corpus_files

ALL_FILES = corpus_files("mixed") + corpus_files("automated")
LINE_BREAKS = ("\r", "\n", "\x00", "\x0b", "\x0c", "\x85", "\u2028", "\u2029")


def _assert_clean(text: object, where: str, *, single_line: bool) -> None:
    assert isinstance(text, str), where
    text.encode("utf-8")  # raises on lone surrogates
    assert "\x00" not in text, where
    if single_line:
        assert not any(char in text for char in LINE_BREAKS), where


def _assert_invariants(msg: ParsedMessage) -> None:
    for name, value in msg.headers:
        _assert_clean(name, "header name", single_line=True)
        _assert_clean(value, f"header {name}", single_line=True)
    _assert_clean(msg.subject, "subject", single_line=True)
    addresses = [*msg.from_, *msg.to, *msg.cc, *msg.bcc, *msg.reply_to]
    if msg.sender is not None:
        addresses.append(msg.sender)
    for address in addresses:
        assert isinstance(address, Address)
        _assert_clean(address.name, "address name", single_line=True)
        _assert_clean(address.email, "address email", single_line=True)
    if msg.return_path is not None:
        _assert_clean(msg.return_path, "return path", single_line=True)
    assert msg.date is None or msg.date.tzinfo is not None
    for msg_id in [msg.message_id, msg.in_reply_to, *msg.references]:
        _assert_clean(msg_id, "msg-id", single_line=True)
        if msg_id:
            assert msg_id.startswith("<") and msg_id.endswith(">"), msg_id
            assert not any(char.isspace() for char in msg_id), msg_id
    _assert_clean(msg.text_body, "text body", single_line=False)
    _assert_clean(msg.html_body, "html body", single_line=False)
    assert "\r" not in msg.text_body
    for attachment in msg.attachments:
        assert isinstance(attachment, AttachmentInfo)
        _assert_clean(attachment.filename, "filename", single_line=True)
        _assert_clean(attachment.content_id, "content id", single_line=True)
        assert "/" in attachment.content_type
        assert attachment.content_type == attachment.content_type.lower()
        assert attachment.part and all(p.isdigit() for p in attachment.part.split("."))
    for defect in msg.defects:
        _assert_clean(defect, "defect", single_line=True)


def test_it_finds_the_shared_corpus() -> None:
    assert len(corpus_files("mixed")) > 250, f"corpus not found under {CORPUS}"
    assert len(corpus_files("automated")) > 300, f"corpus not found under {CORPUS}"


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda path: path.name)
def test_it_parses_every_corpus_message_into_clean_fields(path: Path) -> None:
    _assert_invariants(parse_message(path.read_bytes()))


# Expected values below were read off the files by hand.
def test_it_reads_a_yahoo_message_with_a_split_utf8_subject() -> None:
    msg = parse_message((CORPUS / "mixed" / "flanker__bilingual-simple.eml").read_bytes())
    assert msg.subject == "Simple text. How are you? Как ты поживаешь?"
    assert msg.from_ == [Address("Hello", "hello@example.com")]
    assert msg.return_path == "hello@example.com"
    assert msg.message_id == "<341090.85574.qm@web50704.mail.re2.yahoo.com>"
    assert msg.date == datetime(2010, 2, 7, 14, 2, 38, tzinfo=timezone(timedelta(hours=-8)))
    # The first letter is a Cyrillic A, as in the file.
    russian = "А эта линия по-русски."  # noqa: RUF001
    assert msg.text_body.startswith(f"This line is in English\n{russian}\n")
    assert msg.defects == []


def test_it_reads_a_multipart_message_with_a_pdf_attachment() -> None:
    path = CORPUS / "mixed" / "mikel-mail__attachment_emails_attachment_pdf.eml"
    msg = parse_message(path.read_bytes())
    assert msg.subject == "Another PDF with 🎉 Unicode chars in it 🍿"
    assert msg.from_ == [Address("Test Tester", "xxxx@xxxx.com")]
    assert msg.reply_to == [Address("Test Tester", "xxxx@xxxx.com")]
    assert msg.text_body.startswith("Just attaching another PDF, here, to see what")
    assert [(a.filename, a.content_type, a.part) for a in msg.attachments] == [
        ("broken.pdf", "application/pdf", "2")
    ]


def test_it_keeps_raw_8bit_bytes_inside_an_encoded_word() -> None:
    # The Subject is =?iso-8859-1?Q?...Fr<0xF6>sche?= with a raw byte inside the encoded word.
    msg = parse_message((CORPUS / "mixed" / "zbateson__m2004.txt").read_bytes())
    assert msg.subject == "Die Hasen und die Frösche"
    assert msg.to == [Address("Heinz Müller", "mueller@example.com")]
    assert [a.content_id for a in msg.attachments] == [
        "4.2.0.58.20000519003143.00a8d550@pop.example.com.0",
        "4.2.0.58.20000519003143.00a8d550@pop.example.com.1",
    ]


def test_it_numbers_nested_parts_like_imap() -> None:
    msg = parse_message((CORPUS / "mixed" / "zbateson__m1005.txt").read_bytes())
    assert [(a.filename, a.part) for a in msg.attachments] == [
        ("C:\\TEMP\\nsmailEG.png", "1.2.2"),
        ("C:\\TEMP\\nsmail39.png", "1.2.3"),
        ("redball.png", "2"),
        ("greenball.png", "3"),
    ]
    assert msg.text_body.startswith("[blue ball]\n\nDie Hasen und die Frösche\n")


def test_it_falls_back_to_windows_1252_for_a_body_that_lies_about_utf8() -> None:
    msg = parse_message((CORPUS / "mixed" / "phpmime__m0019").read_bytes())
    assert "Det här är ett flerdelat meddelande i MIME-format." in msg.text_body
    assert msg.from_ == [Address("sendeär", "sender@test.com")]
    assert "undecodable charset utf-8 in part 1" in msg.defects


def test_it_decodes_an_encoded_display_name_holding_a_comma() -> None:
    msg = parse_message((CORPUS / "mixed" / "flanker__encoded-header.eml").read_bytes())
    assert msg.from_ == [Address("Foo, Bar", "foo.bar@example.com")]
    assert msg.text_body == "hello, world\n"


def test_it_records_an_unknown_charset_and_still_decodes_the_subject() -> None:
    path = CORPUS / "mixed" / "mikel-mail__error_emails_bad_encoded_subject.eml"
    msg = parse_message(path.read_bytes())
    assert msg.subject == "TEST"
    assert msg.defects == ["undecodable charset NONE in Subject"]


def test_it_records_an_unparseable_date() -> None:
    path = CORPUS / "mixed" / "mikel-mail__error_emails_bad_date_header.eml"
    msg = parse_message(path.read_bytes())
    assert msg.date is None
    assert msg.defects == ["unparseable Date: '<HR>'"]
    # "In-Reply-To: someone@yahoo.com" has no brackets but is an id@host token.
    assert msg.in_reply_to == "<someone@yahoo.com>"


def test_it_decodes_iso_2022_jp_with_a_vendor_character_around_it() -> None:
    # The Subject holds NEC's "№" (0x2D62), which no Python ISO-2022-JP codec knows.
    msg = parse_message((CORPUS / "mixed" / "phpmime__issue116").read_bytes())
    assert msg.subject == "ЖД\ufffd41 от 28.09.2016"
    assert msg.defects == ["undecodable charset iso-2022-jp in Subject"]


def test_it_reads_raw_utf8_with_one_broken_byte_as_utf8() -> None:
    # The From name is UTF-8 Cyrillic ending in a truncated sequence.
    msg = parse_message((CORPUS / "mixed" / "flanker__mailformed-headers.eml").read_bytes())
    assert [address.name for address in msg.from_] == ["Юникод запрещен\ufffd"]


def test_it_keeps_headers_when_the_first_header_line_is_broken() -> None:
    msg = parse_message((CORPUS / "mixed" / "flanker__enclosed.eml").read_bytes())
    assert msg.subject == "Wow"
    assert msg.from_ == [Address("Bob Marley", "bob@example.net")]
    assert "FirstHeaderLineIsContinuationDefect in message" in msg.defects


def test_it_removes_a_newline_decoded_from_the_subject() -> None:
    msg = parse_message(build("Subject: =?UTF-8?Q?Hi=0ABcc:_x@evil.test?="))
    assert msg.subject == "HiBcc: x@evil.test"
    assert msg.header("Bcc") is None


def test_it_turns_other_line_separators_into_spaces() -> None:
    msg = parse_message(build("Subject: =?UTF-8?Q?a=E2=80=A8b=0Bc=C2=85d?="))
    assert msg.subject == "a b c d"


def test_it_unfolds_headers_and_keeps_their_order() -> None:
    msg = parse_message(build("X-B: one\r\n two", "x-a: 1", "X-A: 2", "Subject: s"))
    assert msg.headers == [("X-B", "one two"), ("x-a", "1"), ("X-A", "2"), ("Subject", "s")]
    assert msg.header("X-A") == "1"
    assert msg.header_all("x-a") == ["1", "2"]
    assert msg.header("X-C") is None


def test_it_removes_nul_from_headers_and_bodies() -> None:
    msg = parse_message(build("Subject: a\x00b", body="x\x00y\r\n"))
    assert msg.subject == "ab"
    assert msg.text_body == "xy\n"


def test_it_is_not_fooled_by_the_parseaddr_confusion() -> None:
    # CVE-2023-27043: email.utils.getaddresses reads bob@example.org out of this.
    msg = parse_message(build("From: alice@example.org)<bob@example.org>"))
    assert all(address.email != "bob@example.org" for address in msg.from_)
    assert any("invalid address in From" in defect for defect in msg.defects)


def test_it_takes_a_quoted_address_lookalike_as_the_display_name() -> None:
    msg = parse_message(build('From: "alice@example.org" <bob@evil.test>'))
    assert msg.from_ == [Address("alice@example.org", "bob@evil.test")]


def test_it_gives_an_invalid_mailbox_an_empty_email() -> None:
    msg = parse_message(build("To: Bob <bob@evil.test", "Cc: a@b.test <c@d.test>"))
    assert [address.email for address in msg.to + msg.cc] == ["", ""]
    assert len([d for d in msg.defects if d.startswith("invalid address")]) == 2


def test_it_lower_cases_only_the_domain() -> None:
    msg = parse_message(build("From: Alice <Alice.Smith@Example.ORG>"))
    assert msg.from_ == [Address("Alice", "Alice.Smith@example.org")]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a@x.test, B <b@x.test>", [Address("", "a@x.test"), Address("B", "b@x.test")]),
        ('"Doe, John" <j@x.test>', [Address("Doe, John", "j@x.test")]),
        ("=?utf-8?q?Eva_M=C3=BCller?= <eva@x.test>", [Address("Eva Müller", "eva@x.test")]),
        ("team: a@x.test, b@x.test;", [Address("", "a@x.test"), Address("", "b@x.test")]),
        ("undisclosed-recipients:;", []),
        ("a@x.test (Alice)", [Address("", "a@x.test")]),
    ],
)
def test_it_parses_address_lists(value: str, expected: list[Address]) -> None:
    msg = parse_message(build(f"To: {value}"))
    assert msg.to == expected
    assert msg.defects == []


def test_it_reads_the_regular_addresses_around_an_irregular_one() -> None:
    msg = parse_message(build("To: a@x.test, Bob (desk) <b@x.test>, broken <c@x.test, d@x.test"))
    assert msg.to == [
        Address("", "a@x.test"),
        Address("Bob", "b@x.test"),
        Address("broken", ""),
        Address("", "d@x.test"),
    ]
    assert msg.defects == ["invalid address in To: 'broken <c@x.test, d@x.test'"]


def test_it_limits_the_slow_parser_to_short_and_few_irregular_addresses() -> None:
    # The RFC 5322 parser is quadratic: 100 KB of "a a a ..." would take about ten seconds.
    huge = "a " * 50_000
    many = "Bob (desk) <b@x.test>, " * 60
    msg = parse_message(build(f"To: {huge}", f"Cc: {many}"))
    assert msg.to == []
    assert len(msg.cc) == 50
    assert msg.defects == [
        "1 overlong or excess irregular addresses not parsed in To",
        "10 overlong or excess irregular addresses not parsed in Cc",
    ]


def test_it_reads_raw_utf8_display_names() -> None:
    msg = parse_message(build("From: Jørn Støylen <jorn@x.test>"))
    assert msg.from_ == [Address("Jørn Støylen", "jorn@x.test")]


def test_it_collects_every_address_header() -> None:
    msg = parse_message(
        build(
            "From: a@x.test",
            "Sender: s@x.test",
            "To: t@x.test",
            "Cc: c@x.test",
            "Bcc: b@x.test",
            "Reply-To: r@x.test",
        )
    )
    emails = [msg.from_, msg.to, msg.cc, msg.bcc, msg.reply_to]
    assert [[a.email for a in addresses] for addresses in emails] == [
        ["a@x.test"],
        ["t@x.test"],
        ["c@x.test"],
        ["b@x.test"],
        ["r@x.test"],
    ]
    assert msg.sender == Address("", "s@x.test")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Return-Path: <alice@Cust.TEST>", "alice@cust.test"),
        ("Return-Path: <>", ""),
        ("Return-Path: < >", ""),
        ("Return-Path: <@relay.test:bob@x.test>", "bob@x.test"),
        ("Return-Path: plain@x.test", "plain@x.test"),
        ("Return-Path: <MAILER-DAEMON>", "MAILER-DAEMON"),
    ],
)
def test_it_reads_the_return_path(header: str, expected: str) -> None:
    msg = parse_message(build(header))
    assert msg.return_path == expected
    assert msg.defects == []


def test_it_has_no_return_path_without_the_header() -> None:
    assert parse_message(build("From: a@x.test")).return_path is None


def test_it_treats_a_garbled_return_path_as_null() -> None:
    msg = parse_message(build("Return-Path: a@x.test, b@x.test"))
    assert msg.return_path == ""
    assert msg.defects == ["unparseable Return-Path: 'a@x.test, b@x.test'"]


@pytest.mark.parametrize(
    "value", ["<alice@example.org)<bob@example.org>", "<a@x.test> <b@x.test>", "<a@x.test"]
)
def test_it_does_not_guess_between_addresses_in_a_return_path(value: str) -> None:
    msg = parse_message(build(f"Return-Path: {value}"))
    assert msg.return_path == ""
    assert msg.defects == [f"unparseable Return-Path: {value!r}"]


def test_it_uses_the_topmost_return_path() -> None:
    msg = parse_message(build("Return-Path: <a@x.test>", "Subject: s", "Return-Path: <b@x.test>"))
    assert msg.return_path == "a@x.test"
    assert msg.defects == ["several different Return-Path headers"]


def test_it_parses_dates_into_aware_datetimes() -> None:
    msg = parse_message(build("Date: Tue, 10 May 2005 11:26:39 -0600"))
    assert msg.date == datetime(2005, 5, 10, 17, 26, 39, tzinfo=UTC)
    assert msg.date is not None and msg.date.utcoffset() == timedelta(hours=-6)


def test_it_reads_a_zoneless_date_as_utc() -> None:
    msg = parse_message(build("Date: Tue, 10 May 2005 11:26:39 -0000"))
    assert msg.date == datetime(2005, 5, 10, 11, 26, 39, tzinfo=UTC)


def test_it_has_no_date_and_no_defect_without_the_header() -> None:
    msg = parse_message(build("Subject: s"))
    assert msg.date is None
    assert msg.defects == []


def test_it_normalises_message_ids() -> None:
    msg = parse_message(
        build(
            "Message-ID: < abc@host.test >",
            "In-Reply-To: <p1@x.test> (Alice's message of Monday)",
            "References: <r1@x.test> garbage (comment) <r2@\r\n x.test> <> r3@x.test",
        )
    )
    assert msg.message_id == "<abc@host.test>"
    assert msg.in_reply_to == "<p1@x.test>"
    assert msg.references == ["<r1@x.test>", "<r2@x.test>", "<r3@x.test>"]


def test_it_leaves_ids_empty_without_their_headers() -> None:
    msg = parse_message(build("Subject: s"))
    assert (msg.message_id, msg.in_reply_to, msg.references) == ("", "", [])


def _multipart(*parts: str, boundary: str = "b1", subtype: str = "mixed") -> tuple[str, str]:
    """Return the Content-Type header line and the body of a multipart holding parts."""
    body = "".join(f"--{boundary}\r\n{part}\r\n" for part in parts)
    return f"Content-Type: multipart/{subtype}; boundary={boundary}", body + f"--{boundary}--\r\n"


def test_it_picks_the_first_text_and_html_parts_and_lists_the_rest() -> None:
    alternative_header, alternative_body = _multipart(
        "Content-Type: text/plain; charset=utf-8\r\n\r\nplain text",
        "Content-Type: text/html; charset=utf-8\r\n\r\n<p>html</p>",
        boundary="b2",
        subtype="alternative",
    )
    header, body = _multipart(
        f"{alternative_header}\r\n\r\n{alternative_body}",
        "Content-Type: text/plain; name=notes.txt\r\n\r\nnot the body",
        "Content-Type: image/png\r\nContent-ID: <img1@x.test>\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=",
        "Content-Type: text/plain\r\n\r\na second inline text",
    )
    msg = parse_message(build("Subject: s", "MIME-Version: 1.0", header, body=body))
    assert msg.text_body == "plain text"
    assert msg.html_body == "<p>html</p>"
    assert msg.attachments == [
        AttachmentInfo("notes.txt", "text/plain", 12, "", "2"),
        AttachmentInfo("", "image/png", 8, "img1@x.test", "3"),
        AttachmentInfo("", "text/plain", 20, "", "4"),
    ]


def test_it_does_not_take_an_attached_text_file_as_the_body() -> None:
    header, body = _multipart(
        "Content-Type: text/plain\r\nContent-Disposition: attachment\r\n\r\nfile content"
    )
    msg = parse_message(build(header, body=body))
    assert msg.text_body == ""
    assert [a.content_type for a in msg.attachments] == ["text/plain"]


@pytest.mark.parametrize(
    ("disposition", "expected"),
    [
        ("attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf", "résumé.pdf"),
        ('attachment; filename="=?UTF-8?B?w6l0w6kucGRm?="', "été.pdf"),
        ('attachment; filename="a\\"b.pdf"', 'a"b.pdf'),
    ],
)
def test_it_decodes_attachment_file_names(disposition: str, expected: str) -> None:
    header, body = _multipart(
        "Content-Type: text/plain\r\n\r\nbody",
        f"Content-Type: application/pdf\r\nContent-Disposition: {disposition}\r\n\r\n%PDF",
    )
    msg = parse_message(build(header, body=body))
    assert [a.filename for a in msg.attachments] == [expected]


def test_it_strips_line_breaks_from_an_encoded_file_name() -> None:
    header, body = _multipart(
        "Content-Type: application/pdf\r\n"
        'Content-Disposition: attachment; filename="=?UTF-8?Q?a=0D=0Ab=00.pdf?="\r\n\r\n%PDF"'
    )
    msg = parse_message(build(header, body=body))
    assert [a.filename for a in msg.attachments] == ["ab.pdf"]


@pytest.mark.parametrize(
    ("content_type", "payload", "expected", "defect"),
    [
        ("text/plain; charset=iso-8859-1", b"caf\xe9 \x93quoted\x94", "café “quoted”", None),
        ("text/plain; charset=x-unknown", "café".encode(), "café", "x-unknown"),
        ("text/plain; charset=utf-8", b"caf\xe9", "café", "utf-8"),
        ("text/plain", "naïve".encode(), "naïve", None),
        ("text/plain; charset=unicode-escape", b"\\u0041", "\\u0041", "unicode-escape"),
        ("text/plain; charset=x-mac-cyrillic", "Привет".encode("mac-cyrillic"), "Привет", None),
        ("text/plain; charset=iso-8859-1", "Grüße".encode(), "GrÃ¼ÃŸe", None),
        ("text/plain; charset=us-ascii", "Grüße".encode(), "Grüße", "us-ascii"),
    ],
)
def test_it_decodes_bodies_with_charset_fallbacks(
    content_type: str, payload: bytes, expected: str, defect: str | None
) -> None:
    msg = parse_message(build(f"Content-Type: {content_type}", body=payload))
    assert msg.text_body == expected
    expected_defects = [] if defect is None else [f"undecodable charset {defect} in part 1"]
    assert msg.defects == expected_defects


def test_it_undoes_transfer_encodings() -> None:
    quoted = build("Content-Transfer-Encoding: quoted-printable", body="a=3Db=\r\nc\r\n")
    base64 = build("Content-Transfer-Encoding: base64", body="aMOpbGxv\r\n")
    assert parse_message(quoted).text_body == "a=bc\n"
    assert parse_message(base64).text_body == "héllo"


@pytest.mark.parametrize(
    "header",
    [
        b"To: " + b"a" * 100_000 + b"@",
        b"References: " + b"a" * 100_000 + b"@",
        b"Return-Path: <" + b" " * 100_000,
        b"Content-Type: text/plain" + b'; a="b"' * 10_000,
        b"Subject: " + b"=?utf-8?q?a?= " * 50_000,
    ],
    ids=["address", "references", "return-path", "parameters", "encoded-words"],
)
def test_it_parses_huge_headers_in_linear_time(header: bytes) -> None:
    # Quadratic behaviour shows as seconds here; linear is well under a tenth of that.
    start = time.perf_counter()
    _assert_invariants(parse_message(header + b"\r\n\r\nbody"))
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe garbage without headers",
        b"Subject: only headers",
        b"Content-Type: multipart/mixed\r\n\r\nno boundary at all",
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nnever closed",
        b"\r\n\r\n\r\n",
        b"Subject: \xff\xfe\r\nFrom: \xc3\x28 <a@b>\r\n\r\n\xff",
        (b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n" * 2000),
    ],
    ids=["empty", "garbage", "headers-only", "no-boundary", "unclosed", "blank", "8bit", "deep"],
)
def test_it_never_raises(raw: bytes) -> None:
    _assert_invariants(parse_message(raw))


def test_it_keeps_what_it_read_when_one_step_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(parsed: ParsedMessage, root: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(parse, "_read_parts", broken)
    msg = parse_message(build("Subject: still here", "From: a@x.test"))
    assert msg.subject == "still here"
    assert msg.from_ == [Address("", "a@x.test")]
    assert msg.defects == ["body parts not read (RuntimeError)"]


def test_its_results_are_plain_dataclasses() -> None:
    msg = parse_message(build("From: a@x.test"))
    assert dataclasses.is_dataclass(msg)
    with pytest.raises(dataclasses.FrozenInstanceError):
        msg.from_[0].email = "b@x.test"  # type: ignore[misc]


def test_its_package_imports_neither_django_nor_the_rest_of_mailroom() -> None:
    # A fresh interpreter, since this test process has Django loaded by pytest-django.
    script = (
        "import sys, mailroom\n"
        "before = set(sys.modules)\n"
        "import mailroom.mime.autoreply, mailroom.mime.compose, mailroom.mime.parse\n"
        "print('\\n'.join(sorted(set(sys.modules) - before)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    loaded = result.stdout.split()
    assert "mailroom.mime.parse" in loaded
    assert [name for name in loaded if name.startswith("django")] == []
    assert [
        n for n in loaded if n.startswith("mailroom.") and not n.startswith("mailroom.mime")
    ] == []
