"""Undoing Content-Transfer-Encoding, leniently, as mail clients do."""

from __future__ import annotations

import binascii
import re
from email.message import Message

_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/=]")
_PADDING = re.compile(rb"=+")
IDENTITY_ENCODINGS = frozenset({"", "7bit", "8bit", "binary"})
"""The encodings that leave the body as it is (the only ones a multipart may have)."""
_UU_ENCODINGS = frozenset({"x-uuencode", "uuencode", "uue", "x-uue"})


def transfer_encoding(headers: Message) -> str:
    """Return the Content-Transfer-Encoding keyword, lower-case ("" when absent)."""
    value = str(headers.get("content-transfer-encoding", ""))
    # Seen in the wild: quotes, trailing ";", trailing comments.
    words = value.replace(";", " ").replace('"', " ").split()
    return words[0].lower() if words else ""


def decode_body(body: bytes, encoding: str) -> tuple[bytes, str | None]:
    """Undo a transfer encoding; return the bytes and a problem description, if any."""
    if encoding == "base64":
        return _decode_base64(body)
    if encoding == "quoted-printable":
        return binascii.a2b_qp(body), None
    if encoding in _UU_ENCODINGS:
        return _decode_uu(body)
    if encoding in IDENTITY_ENCODINGS:
        return body, None
    # An unknown encoding ("plain", "text/html", "7-bit") means the sender wrote the text as is.
    return body, f"unknown Content-Transfer-Encoding {encoding!r}"


def _decode_base64(body: bytes) -> tuple[bytes, str | None]:
    data = b"".join(body.split())
    try:
        return binascii.a2b_base64(data, strict_mode=True), None
    except binascii.Error:
        pass
    # Lenient: drop characters outside the alphabet and decode each run up to a padding, so
    # concatenated base64 blocks are all kept and missing padding is forgiven.
    out = bytearray()
    for chunk in _PADDING.split(_NOT_BASE64.sub(b"", data)):
        usable = chunk[: len(chunk) - 1] if len(chunk) % 4 == 1 else chunk
        if usable:
            out += binascii.a2b_base64(usable + b"=" * (-len(usable) % 4))
    return bytes(out), "invalid base64"


def _decode_uu(body: bytes) -> tuple[bytes, str | None]:
    lines = iter(body.splitlines())
    for line in lines:
        if line.startswith(b"begin "):
            break
    else:
        return body, "uuencoded part without a begin line"
    decoded = bytearray()
    for line in lines:
        if line.strip() == b"end":
            return bytes(decoded), None
        if not line:
            continue
        try:
            decoded += binascii.a2b_uu(line)
        except binascii.Error:
            # Some encoders pad lines with garbage; the length byte says how much is real.
            try:
                decoded += binascii.a2b_uu(line[: (((line[0] - 32) & 63) * 4 + 5) // 3])
            except binascii.Error:
                return bytes(decoded), "invalid uuencoded line"
    return bytes(decoded), "uuencoded part without an end line"
