"""Turning bytes of a declared charset into clean text that is always valid UTF-8."""

from __future__ import annotations

import codecs
import functools
import re

# Labels that mail software writes but means a superset of, as browsers (WHATWG Encoding) do:
# mail declared ISO-8859-1 is in practice Windows-1252 (curly quotes in 0x80-0x9F), GB2312 mail
# uses GBK characters, and so on. Decoding with the superset only ever adds characters.
_SUPERSETS = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "euc-kr": "cp949",
    "ks_c_5601-1987": "cp949",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "iso-8859-8-i": "iso-8859-8",
}

# Python codecs that are "text encodings" but are not charsets: a sender must not be able to make
# us interpret backslash escapes or IDNA/punycode transformations in their text.
_NOT_CHARSETS = frozenset(
    {"unicode-escape", "raw-unicode-escape", "idna", "punycode", "undefined", "charmap"}
)

# Characters that str.splitlines() treats as line ends, besides CR and LF. Code that later splits
# or folds a header (the email package does) would turn them into real line breaks.
_OTHER_LINE_BREAKS = re.compile("[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


@functools.lru_cache(maxsize=512)
def resolve_charset(label: str) -> str | None:
    """Return the Python codec name for a MIME charset label, or None if unknown or unsafe."""
    name = label.strip().strip("\"'").lower()
    # RFC 2231 allows a language after the charset: "utf-8*en".
    name = name.split("*", 1)[0]
    if not name or len(name) > 64 or not name.isascii():
        return None
    name = _SUPERSETS.get(name, name)
    # Unregistered labels keep their "x-" ("x-mac-cyrillic") after the charset got a name.
    for candidate in (name, name.removeprefix("x-")):
        try:
            info = codecs.lookup(candidate)
        except (LookupError, ValueError):
            continue
        # Codecs like "base64" or "rot13" are bytes-to-bytes transformations, not charsets.
        if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
            return None
        return info.name
    return None


def ensure_utf8(text: str) -> str:
    """Return text that encodes as UTF-8: lone surrogates (UTF-7 can make them) become '?'."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def _mostly(data: bytes, codec: str) -> str | None:
    """Decode with replacement characters, if only a few characters need replacing.

    Mail that is nearly valid in a charset (a stray byte, a sequence cut by a length limit, a
    vendor character like NEC's in ISO-2022-JP) reads better that way than re-read as
    Windows-1252, whereas text in the wrong charset needs a replacement for most of its
    non-ASCII characters.
    """
    text = data.decode(codec, "replace")
    replaced = text.count("\ufffd")
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))
    return text if replaced * 3 <= non_ascii else None


def _decode(data: bytes, codec: str | None) -> tuple[str, bool]:
    """Return the text and whether codec (if given) decoded it without replacements."""
    if codec is not None:
        try:
            return data.decode(codec), True
        # Some codecs raise ValueError subclasses other than UnicodeDecodeError.
        except (UnicodeError, ValueError):
            pass
    # Non-ASCII bytes that happen to form valid UTF-8 are UTF-8 (mislabelled mail is common).
    # Pure ASCII proves nothing: a 7-bit charset such as ISO-2022-JP is ASCII bytes too.
    if not data.isascii():
        try:
            return data.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    text = _mostly(data, codec) if codec is not None else None
    if text is None and data.isascii():
        text = data.decode("ascii")
    if text is None:
        text = _mostly(data, "utf-8")
    return text if text is not None else data.decode("cp1252", "replace"), False


def decode_text(data: bytes, charset: str | None) -> tuple[str, bool, bool]:
    """Decode data as :func:`decode_bytes` does; also say whether NUL characters were removed.

    A NUL is no character of any text (RFC 5322 section 2.3, RFC 2045 section 2.7): text that
    held one was damaged on the way, and the reader should know it is not exactly as sent.
    """
    codec = resolve_charset(charset) if charset else None
    text, ok = _decode(data, codec)
    had_nul = "\x00" in text
    if had_nul:
        text = text.replace("\x00", "")
    return ensure_utf8(text), ok or charset is None, had_nul


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, bool]:
    """Decode data with its declared charset, falling back to UTF-8, then Windows-1252.

    Returns the text and whether the declared charset (if any) decoded it. The text is valid
    UTF-8 and contains no NUL.
    """
    text, ok, _had_nul = decode_text(data, charset)
    return text, ok


def bytes_to_text(data: bytes) -> str:
    """Decode bytes of unknown charset: ASCII, else UTF-8, else Windows-1252 (never fails)."""
    return _decode(data, None)[0]


def fix_8bit(value: str) -> str:
    """Turn a surrogate-escaped str from the email parser into real text."""
    if value.isascii():
        return value
    return bytes_to_text(value.encode("utf-8", "surrogateescape"))


def clean_header_text(text: str) -> str:
    """Make text safe to show or reuse as a header value: one line, no NUL, valid UTF-8."""
    if "\r" in text or "\n" in text or "\x00" in text:
        text = text.replace("\r", "").replace("\n", "").replace("\x00", "")
    if _OTHER_LINE_BREAKS.search(text):
        text = _OTHER_LINE_BREAKS.sub(" ", text)
    return ensure_utf8(text)
