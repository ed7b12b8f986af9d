"""Undoing transfer encodings: what mail clients accept is accepted, with a problem noted."""

from __future__ import annotations

from binascii import b2a_uu
from email.message import Message

import pytest

from mailroom.mime.transfer import decode_body, transfer_encoding


@pytest.mark.parametrize(
    ("encoding", "body", "expected", "problem"),
    [
        ("base64", b"aGVs\r\nbG8=\r\n", b"hello", None),
        ("base64", b"aGVsbG8", b"hello", "invalid base64"),
        ("base64", b"aGk=aGk=", b"hihi", "invalid base64"),
        ("base64", b"aG!Vs*bG8=", b"hello", "invalid base64"),
        ("Quoted-Printable", b"caf=C3=A9 =\r\nok", "café ok".encode(), None),
        ("x-uuencode", b"begin 644 a.txt\n" + b2a_uu(b"hello") + b"`\nend\n", b"hello", None),
        ("x-uuencode", b"no begin line", b"no begin line", "uuencoded part without a begin"),
        ("7-bit", b"as is", b"as is", "unknown Content-Transfer-Encoding '7-bit'"),
        ('"base64";', b"aGk=", b"hi", None),
    ],
)
def test_it_undoes_transfer_encodings_leniently(
    encoding: str, body: bytes, expected: bytes, problem: str | None
) -> None:
    headers = Message()
    headers["Content-Transfer-Encoding"] = encoding
    payload, found = decode_body(body, transfer_encoding(headers))
    assert payload == expected
    if problem is None:
        assert found is None
    else:
        assert found is not None and found.startswith(problem)
