"""Odd real-world mail, built in code: each a defect or a corner that mail software sends.

Every message carries its own Message-ID (unless the oddity is about it), a subject with the
word "oddity" (so the autoresponse rule of the test mailbox may answer it) and a word of its
own to search for. Each comes from a sender of its own, so that each is answered (mailroom
answers a sender once a week). ``malformed`` says what the store must conclude: True for mail
that breaks a standard (it must be flagged), False for mail that is unusual but valid (it must
not be), None where either is defensible.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

NOW = format_datetime(datetime.now(UTC)).encode()


@dataclass(frozen=True)
class Oddity:
    """One odd message: its bytes, and whether the store must flag it as malformed."""

    name: str
    raw: bytes
    malformed: bool | None
    search: str
    """A word of its subject, as a reader would search for it."""


def _lines(*lines: bytes) -> bytes:
    return b"\r\n".join(lines) + b"\r\n"


def _head(name: str, *extra: bytes, subject: bytes | None = None) -> bytes:
    """The usual top headers of an oddity, then ``extra`` headers (no blank line)."""
    return _lines(
        # What the delivering server adds; without it mail counts as automatic.
        b"Return-Path: <" + name.encode() + b"@customer.test>",
        b"From: Olga Odd <" + name.encode() + b"@customer.test>",
        b"To: Support <support@example.test>",
        b"Subject: " + (subject if subject is not None else b"oddity " + name.encode()),
        b"Message-ID: <" + name.encode() + b"@customer.test>",
        b"Date: " + NOW,
        b"MIME-Version: 1.0",
        *extra,
    )


def _plain(name: str, body: bytes, *extra: bytes) -> bytes:
    return _head(name, *extra) + b"\r\n" + body


def _multipart(name: str, boundary: bytes, parts: list[bytes], closed: bool = True) -> bytes:
    out = _head(name, b'Content-Type: multipart/mixed; boundary="' + boundary + b'"') + b"\r\n"
    out += b"This is a multi-part message in MIME format.\r\n"
    for part in parts:
        out += b"--" + boundary + b"\r\n" + part + b"\r\n"
    if closed:
        out += b"--" + boundary + b"--\r\n"
    return out


_TEXT_PART = _lines(b"Content-Type: text/plain; charset=utf-8", b"", b"Hello, see the file.")
_PDF = b"%PDF-1.4\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"


def _b64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def _file_part(disposition: bytes, content_type: bytes = b"application/pdf") -> bytes:
    return _lines(
        b"Content-Type: " + content_type,
        b"Content-Disposition: " + disposition,
        b"Content-Transfer-Encoding: base64",
        b"",
    ) + _b64(_PDF)


def _nested(depth: int, boundary_prefix: bytes) -> bytes:
    body = _lines(b"Content-Type: text/plain", b"", b"the innermost words")
    for level in range(depth, 0, -1):
        b = boundary_prefix + str(level).encode()
        body = (
            _lines(b'Content-Type: multipart/mixed; boundary="' + b + b'"', b"")
            + b"--"
            + b
            + b"\r\n"
            + body
            + b"\r\n--"
            + b
            + b"--\r\n"
        )
    return body


def _nested_message(name: str, depth: int) -> bytes:
    return _head(name) + _nested(depth, b"lvl")


_BROKEN_INNER = _lines(
    b"From: Inner <inner@elsewhere.test>",
    b"Subject: =?utf-8?B?not base64 at all!?=",
    b'Content-Type: multipart/alternative; boundary="never-closed"',
    b"",
    b"--never-closed",
    b"Content-Type: text/plain; charset=x-unknown",
    b"Content-Transfer-Encoding: base64",
    b"",
    b"SGVsbG8gd29ybGQ!!!@@@###",
    b"--never-closed",
    b"Content-Type: text/html",
    b"",
    b"<p>unterminated",
)

_TNEF = b"\x78\x9f\x3e\x22\x01\x00" + bytes(range(256)) * 4
_CALENDAR = _lines(
    b"BEGIN:VCALENDAR",
    b"METHOD:REQUEST",
    b"PRODID:-//Odd//EN",
    b"VERSION:2.0",
    b"BEGIN:VEVENT",
    b"UID:odd-1@customer.test",
    b"DTSTART:20261210T090000Z",
    b"DTEND:20261210T100000Z",
    b"SUMMARY:Meeting about the printer",
    b"ORGANIZER;CN=Olga:mailto:olga@customer.test",
    b"ATTENDEE;RSVP=TRUE:mailto:support@example.test",
    b"END:VEVENT",
    b"END:VCALENDAR",
)


def _with(name: str, headers: list[bytes], body: bytes) -> bytes:
    """A message with exactly these header lines (no defaults) and body."""
    del name
    return b"\r\n".join(headers) + b"\r\n\r\n" + body


def _oddities() -> list[Oddity]:
    odd: list[Oddity] = []

    def add(name: str, raw: bytes, malformed: bool | None, search: str = "") -> None:
        odd.append(Oddity(name, raw, malformed, search or name.split("_")[0]))

    add(
        "boundary_missing",
        _head("boundary_missing", b"Content-Type: multipart/mixed")
        + b"\r\n--xyz\r\n"
        + _TEXT_PART
        + b"--xyz--\r\n",
        True,
    )
    add(
        "boundary_never_closed",
        _multipart(
            "boundary_never_closed",
            b"open-b",
            [_TEXT_PART, _file_part(b"attachment; filename=a.pdf")],
            closed=False,
        ),
        True,
    )
    add(
        "boundary_truncated",
        _multipart(
            "boundary_truncated",
            b"cut-b",
            [_TEXT_PART, _file_part(b"attachment; filename=b.pdf")],
            closed=False,
        )[:-400],
        True,
    )
    add(
        "boundary_not_found",
        _head("boundary_not_found", b'Content-Type: multipart/mixed; boundary="absent"')
        + b"\r\n--present\r\n"
        + _TEXT_PART
        + b"--present--\r\n",
        True,
    )
    add("nested_30", _nested_message("nested_30", 30), None)
    add("nested_2000", _nested_message("nested_2000", 2000), None)
    add(
        "rfc822_malformed_inside",
        _multipart(
            "rfc822_malformed_inside",
            b"outer-822",
            [
                _TEXT_PART,
                _lines(
                    b"Content-Type: message/rfc822",
                    b'Content-Disposition: attachment; filename="fwd.eml"',
                    b"",
                )
                + _BROKEN_INNER,
            ],
        ),
        None,
    )
    add(
        "base64_broken",
        _plain(
            "base64_broken",
            b"SGVsbG8gdGhl!!cmUsIHRo*ZSBwcmludGVy\r\nIGlzIG9u=ZmlyZQ=\r\n=\r\n%%%\r\n",
            b"Content-Type: text/plain; charset=utf-8",
            b"Content-Transfer-Encoding: base64",
        ),
        True,
    )
    add(
        "quotedprintable_broken",
        _plain(
            "quotedprintable_broken",
            b"Caf=C3=A9 =ZZ bad =4\r\nsoft break at the end =\r\n=E2=82 cut=",
            b"Content-Type: text/plain; charset=utf-8",
            b"Content-Transfer-Encoding: quoted-printable",
        ),
        None,
    )
    add(
        "charset_unknown",
        _plain(
            "charset_unknown",
            b"Gr\xfc\xdfe aus K\xf6ln\r\n",
            b"Content-Type: text/plain; charset=x-unknown",
        ),
        True,
    )
    add(
        "charset_utf7",
        _plain(
            "charset_utf7",
            b"Hi Mom -+Jjo--!\r\n+AOkA6QDp-\r\n",
            b"Content-Type: text/plain; charset=utf-7",
        ),
        False,
    )
    add(
        "charset_unicode11utf7",
        _plain(
            "charset_unicode11utf7",
            b"Hi Mom -+Jjo--!\r\n",
            b"Content-Type: text/plain; charset=unicode-1-1-utf-7",
        ),
        None,
    )
    add(
        "charset_wrong",
        _plain(
            "charset_wrong",
            b"Gr\xfc\xdfe aus K\xf6ln, \xe0 bient\xf4t\r\n",
            b"Content-Type: text/plain; charset=utf-8",
        ),
        True,
    )
    add(
        "header_raw_utf8",
        _lines(
            b"Return-Path: <juergen@customer.test>",
            "From: Jürgen Müller <juergen@customer.test>".encode(),
            b"To: support@example.test",
            "Subject: oddity header_raw_utf8 Grüße aus Köln ✓".encode(),
            b"Message-ID: <header_raw_utf8@customer.test>",
            b"Date: " + NOW,
            b"Content-Type: text/plain; charset=utf-8",
        )
        + b"\r\n"
        + "Grüße\r\n".encode(),
        None,
    )
    add(
        "header_raw_latin1",
        _lines(
            b"Return-Path: <juergen@customer.test>",
            b"From: J\xfcrgen M\xfcller <juergen@customer.test>",
            b"To: support@example.test",
            b"Subject: oddity header_raw_latin1 Gr\xfc\xdfe aus K\xf6ln",
            b"Message-ID: <header_raw_latin1@customer.test>",
            b"Date: " + NOW,
            b"Content-Type: text/plain; charset=iso-8859-1",
        )
        + b"\r\n"
        + b"Gr\xfc\xdfe\r\n",
        None,
    )
    # "é" is C3 A9: split across two encoded words.
    add(
        "encodedword_split",
        _plain(
            "encodedword_split",
            b"body\r\n",
            b"X-Note: =?UTF-8?B?Y2Fmw6k=?=",
        ).replace(
            b"Subject: oddity encodedword_split",
            b"Subject: =?UTF-8?Q?oddity_encodedword=5Fsplit_caf=C3?= =?UTF-8?Q?=A9?=",
        ),
        False,
        "encodedword_split",
    )
    add(
        "encodedword_bad",
        _plain("encodedword_bad", b"body\r\n")
        .replace(
            b"Subject: oddity encodedword_bad",
            b"Subject: oddity encodedword_bad =?utf-8?B?w6k$$$***?= =?x-unknown?Q?caf=E9?="
            b" =?utf-8?X?zz?=",
        )
        .replace(
            b"From: Olga Odd <encodedword_bad@customer.test>",
            b'From: =?utf-8?B?T2xnYSwg!!?= "=?utf-8?Q?M=C3=BCller,_Hans?=" <ew-bad@customer.test>',
        ),
        True,
    )
    add(
        "filename_encoded_words",
        _multipart(
            "filename_encoded_words",
            b"fn-b",
            [
                _TEXT_PART,
                _file_part(
                    b'attachment; filename="=?utf-8?B?UmVjaG51bmcgw7xiZXIg4oKs?='
                    b' =?utf-8?B?IDEwMC5wZGY=?="'
                ),
                _file_part(b'attachment; filename="=?utf-8?B?broken$$?=.pdf"'),
            ],
        ),
        None,
    )
    add(
        "filename_rfc2231",
        _multipart(
            "filename_rfc2231",
            b"r2231-b",
            [
                _TEXT_PART,
                _file_part(
                    b"attachment;\r\n filename*0*=utf-8''Rechnung%20%C3%BCber%20;\r\n"
                    b" filename*1*=%E2%82%AC%20100;\r\n filename*2=.pdf"
                ),
                # A missing continuation and a bad percent escape.
                _file_part(b"attachment; filename*0*=utf-8''abc%ZZ; filename*2=def.pdf"),
            ],
        ),
        None,
    )
    add(
        "header_100kb",
        _plain("header_100kb", b"A very long header above.\r\n", b"X-Long: " + b"x" * 100_000),
        None,
    )
    add(
        "subject_100kb",
        _plain("subject_100kb", b"A very long subject.\r\n").replace(
            b"Subject: oddity subject_100kb", b"Subject: oddity subject_100kb " + b"word " * 20_000
        ),
        None,
        "subject_100kb",
    )
    add(
        "recipients_10000",
        _plain("recipients_10000", b"Sent to everyone.\r\n").replace(
            b"To: Support <support@example.test>",
            b"To: " + b",\r\n ".join(b"Person %d <p%d@many.test>" % (i, i) for i in range(10_000)),
        ),
        False,
    )
    add(
        "nothing_but_subject",
        _lines(b"Subject: oddity nothing_but_subject", b"Content-Type: text/plain")
        + b"\r\nNo From, no Date, no Message-ID.\r\n",
        None,
    )
    add(
        "messageid_duplicated_a",
        _plain("messageid_duplicated_a", b"first of two\r\n").replace(
            b"<messageid_duplicated_a@customer.test>", b"<same-id@customer.test>"
        ),
        False,
        "messageid_duplicated_a",
    )
    add(
        "messageid_duplicated_b",
        _plain("messageid_duplicated_b", b"second of two\r\n").replace(
            b"<messageid_duplicated_b@customer.test>", b"<same-id@customer.test>"
        ),
        False,
        "messageid_duplicated_b",
    )
    add(
        "messageid_spaces",
        _plain("messageid_spaces", b"body\r\n").replace(
            b"Message-ID: <messageid_spaces@customer.test>",
            b"Message-ID: < odd id with spaces @ customer.test >",
        ),
        None,
    )
    add(
        "messageid_brackets",
        _plain(
            "messageid_brackets",
            b"body\r\n",
            b"In-Reply-To: <<>>",
            b"References: <a@b> <<c@d>> e@f <>",
        ).replace(
            b"Message-ID: <messageid_brackets@customer.test>", b"Message-ID: <<double@brackets>>"
        ),
        None,
    )
    add(
        "messageid_empty",
        _plain("messageid_empty", b"body\r\n").replace(
            b"Message-ID: <messageid_empty@customer.test>", b"Message-ID: <>"
        ),
        None,
    )
    for label, value in (
        ("words", b"yesterday at noon"),
        ("impossible", b"Mon, 32 Foo 2026 25:61:61 +9999"),
        ("year9999", b"Fri, 31 Dec 9999 23:59:59 -1400"),
        ("year1", b"Mon, 01 Jan 0001 00:00:00 +1400"),
        ("huge", b"Mon, 01 Jan 99999999999 00:00:00 +0000"),
    ):
        name = f"date_{label}"
        add(name, _plain(name, b"body\r\n").replace(b"Date: " + NOW, b"Date: " + value), None, name)
    add(
        "nul_bytes",
        _plain(
            "nul_bytes",
            b"before\x00after\r\nmore\x00\x00text\r\n",
            b"X-Nul: a\x00b",
            b"Content-Type: text/plain; charset=utf-8",
        ),
        True,
    )
    add(
        "bare_lf",
        _plain("bare_lf", b"line one\r\nline two\r\n", b"Content-Type: text/plain").replace(
            b"\r\n", b"\n"
        ),
        None,
    )
    add(
        "bare_cr",
        _plain("bare_cr", b"line one\r\nline two\r\n", b"Content-Type: text/plain").replace(
            b"\r\n", b"\r"
        ),
        None,
    )
    add(
        "headers_without_body",
        _head("headers_without_body", b"Content-Type: text/plain"),
        None,
    )
    add("headers_only_minimal", b"Subject: oddity headers_only_minimal\r\n", None)
    add(
        "header_garbage_line",
        _plain(
            "header_garbage_line",
            b"body\r\n",
            b"This line is not a header",
            b"Content-Type: text/plain",
        ),
        True,
    )
    add(
        "tnef_winmail",
        _multipart(
            "tnef_winmail",
            b"tnef-b",
            [
                _TEXT_PART,
                _lines(
                    b'Content-Type: application/ms-tnef; name="winmail.dat"',
                    b'Content-Disposition: attachment; filename="winmail.dat"',
                    b"Content-Transfer-Encoding: base64",
                    b"",
                )
                + _b64(_TNEF),
            ],
        ),
        False,
    )
    add(
        "calendar_invite",
        _head("calendar_invite", b'Content-Type: multipart/alternative; boundary="cal-b"')
        + b"\r\n--cal-b\r\n"
        + _lines(b"Content-Type: text/plain; charset=utf-8", b"", b"You are invited.")
        + b"--cal-b\r\n"
        + _lines(b"Content-Type: text/calendar; charset=utf-8; method=REQUEST", b"")
        + _CALENDAR
        + b"--cal-b--\r\n",
        False,
    )
    add(
        "smime_signed",
        _head(
            "smime_signed",
            b'Content-Type: multipart/signed; protocol="application/pkcs7-signature";'
            b' micalg=sha-256; boundary="sig-b"',
        )
        + b"\r\n--sig-b\r\n"
        + _lines(b"Content-Type: text/plain; charset=utf-8", b"", b"Signed words.")
        + b"--sig-b\r\n"
        + _lines(
            b'Content-Type: application/pkcs7-signature; name="smime.p7s"',
            b"Content-Transfer-Encoding: base64",
            b'Content-Disposition: attachment; filename="smime.p7s"',
            b"",
        )
        + _b64(b"\x30\x82\x05\x00" + bytes(range(200)))
        + b"--sig-b--\r\n",
        False,
    )
    add(
        "html_huge_style",
        _plain(
            "html_huge_style",
            b'<html><body><p style="' + b"color:red;" * 200_000 + b'">styled</p></body></html>',
            b"Content-Type: text/html; charset=utf-8",
        ),
        False,
    )
    add(
        "html_base_href",
        _plain(
            "html_base_href",
            b'<html><head><base href="https://evil.test/"><base target="_top"></head>'
            b'<body><a href="page">relative</a><img src="pixel.gif"></body></html>',
            b"Content-Type: text/html; charset=utf-8",
        ),
        False,
    )
    add(
        "html_nested_tables",
        _plain(
            "html_nested_tables",
            b"<html><body>"
            + b"<table><tr><td>" * 120_000
            + b"deep"
            + b"</td></tr></table>" * 120_000
            + b"</body></html>",
            b"Content-Type: text/html; charset=utf-8",
        ),
        False,
    )
    # Never closed: each <div> nests in the one before, 60,000 deep (the HTML parser's work
    # grows with the square of the depth: half a minute per view if nothing limits it).
    add(
        "html_nested_divs",
        _plain(
            "html_nested_divs",
            b"<html><body>" + b"<div><blockquote>" * 30_000 + b"deep",
            b"Content-Type: text/html; charset=utf-8",
        ),
        False,
    )
    add(
        "cid_missing",
        _head("cid_missing", b'Content-Type: multipart/related; boundary="rel-b"')
        + b"\r\n--rel-b\r\n"
        + _lines(
            b"Content-Type: text/html; charset=utf-8",
            b"",
            b'<p><img src="cid:nowhere@customer.test"><img src="cid:"><img src="cid:%ZZ">'
            b'<img src="cid:logo@customer.test"></p>',
        )
        + b"--rel-b\r\n"
        + _lines(
            b"Content-Type: image/png",
            b"Content-ID: <logo@customer.test>",
            b"Content-Transfer-Encoding: base64",
            b"",
        )
        + b"!!!not an image!!!\r\n"
        + b"--rel-b--\r\n",
        None,
    )
    add(
        "filename_hostile",
        _multipart(
            "filename_hostile",
            b"hostile-b",
            [
                _TEXT_PART,
                _file_part(b'attachment; filename="../../../etc/passwd"'),
                _file_part(b'attachment; filename="..\\..\\windows\\system32\\evil.dll"'),
                _file_part('attachment; filename="invoice\u202efdp.exe"'.encode()),
                _file_part(b'attachment; filename="' + b"long" * 125 + b'.pdf"'),
                _file_part(b'attachment; filename="...."'),
                _file_part(b'attachment; filename="CON"'),
                _file_part(b'attachment; filename="a\\r\\nSet-Cookie: x=1"'),
            ],
        ),
        None,
    )
    add(
        "content_type_missing",
        _multipart(
            "content_type_missing",
            b"noct-b",
            [
                b"\r\nA part without any header at all.",
                _lines(b"Content-Disposition: attachment", b"", b"data"),
            ],
        ),
        None,
    )
    add(
        "charset_unbalanced_quote",
        _plain(
            "charset_unbalanced_quote",
            b"Gr\xc3\xbc\xc3\x9fe\r\n",
            b'Content-Type: text/plain; charset="',
        ),
        None,
    )
    add(
        "content_type_garbage",
        _plain("content_type_garbage", b"words\r\n", b'Content-Type: ;;; "=?; name==="; boundary'),
        None,
    )
    add(
        "dsn_unparsable",
        _head(
            "dsn_unparsable",
            b'Content-Type: multipart/report; report-type=delivery-status; boundary="dsn-b"',
        ).replace(
            b"From: Olga Odd <dsn_unparsable@customer.test>",
            b"From: Mail Delivery System <MAILER-DAEMON@mx.test>",
        )
        + b"\r\n--dsn-b\r\n"
        + _lines(b"Content-Type: text/plain", b"", b"Delivery failed.")
        + b"--dsn-b\r\n"
        + _lines(
            b"Content-Type: message/delivery-status",
            b"",
            b"\x00\xff garbage: : :",
            b"Status 5.1.1 no colon",
            b"  continuation without header",
        )
        + b"--dsn-b\r\n"
        + _lines(b"Content-Type: message/rfc822", b"")
        + b"not a message at all, just words\r\n"
        + b"--dsn-b--\r\n",
        None,
    )
    add(
        "autoreply_references",
        _plain(
            "autoreply_references",
            b"I am out of office.\r\n",
            b"Auto-Submitted: auto-replied",
            b"In-Reply-To: <" + b"x" * 2000 + b"@y>",
            b"References: "
            + b"\r\n ".join(b"<ref%d@garbage.test>" % i for i in range(5000))
            + b" <unclosed  @@ <<>",
        ),
        None,
    )
    add(
        "transfer_encoding_on_multipart",
        _multipart("transfer_encoding_on_multipart", b"te-b", [_TEXT_PART]).replace(
            b"MIME-Version: 1.0\r\n", b"MIME-Version: 1.0\r\nContent-Transfer-Encoding: base64\r\n"
        ),
        None,
    )
    add(
        "references_self_and_cycle",
        _plain(
            "references_self_and_cycle",
            b"body\r\n",
            b"In-Reply-To: <references_self_and_cycle@customer.test>",
            b"References: <header_raw_utf8@customer.test>"
            b" <references_self_and_cycle@customer.test>",
        ),
        None,
    )
    add(
        "from_group_syntax",
        _plain("from_group_syntax", b"body\r\n").replace(
            b"From: Olga Odd <from_group_syntax@customer.test>", b"From: undisclosed-recipients:;"
        ),
        None,
    )
    add(
        "from_utf8_address",
        _plain("from_utf8_address", b"body\r\n").replace(
            b"Olga Odd <from_utf8_address@customer.test>", "José <josé@exämple.test>".encode()
        ),
        None,
    )
    add(
        "charset_utf16",
        _plain(
            "charset_utf16",
            "Grüße aus Köln\n".encode("utf-16"),
            b"Content-Type: text/plain; charset=utf-16",
            b"Content-Transfer-Encoding: binary",
        ),
        False,
    )
    add(
        "whole_message_is_an_image",
        _plain(
            "whole_message_is_an_image",
            _b64(b"\x89PNG\r\n\x1a\n" + bytes(64)),
            b"Content-Type: image/png",
            b"Content-ID: <whole@customer.test>",
            b"Content-Transfer-Encoding: base64",
        ),
        False,
    )
    add(
        "boundary_8bit",
        _head("boundary_8bit", 'Content-Type: multipart/mixed; boundary="grenzé"'.encode())
        + "\r\n--grenzé\r\n\r\nInside.\r\n--grenzé--\r\n".encode(),
        None,
    )
    add(
        "date_offset_24h",
        _plain("date_offset_24h", b"body\r\n").replace(
            b"Date: " + NOW, b"Date: Wed, 02 Dec 2026 21:00:00 +2400"
        ),
        True,
    )
    return odd


ODDITIES = _oddities()
