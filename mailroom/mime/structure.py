"""Splitting a message into its tree of MIME parts.

The email package's feed parser reads a message line by line in Python, which makes a 100 KB
base64 attachment cost thousands of iterations and caps parsing at about 3,000 messages a
second before any decoding is done. ``split_fast`` instead finds header blocks and multipart
delimiters with ``bytes.find`` and gives up (returns None) on anything it does not fully
understand: bare CR line endings, header lines that are not headers, multiparts without a
boundary or without their closing delimiter. ``split_with_email_package`` handles those, so
unusual messages get the standard library's well-tested recovery and its defect reports, and
both paths yield the same ``MimeNode`` tree for the rest of the code.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from email import policy
from email.generator import BytesGenerator
from email.message import Message
from email.parser import BytesParser

from mailroom.mime.charsets import fix_8bit
from mailroom.mime.transfer import IDENTITY_ENCODINGS, decode_body, transfer_encoding

# A header line as the email package recognises one: a name of printable ASCII except ":".
_HEADER_NAME = re.compile(rb"[\x21-\x39\x3b-\x7e]+:")
# Nesting deeper than this is no real mail; leave it to the email package's handling.
_MAX_DEPTH = 30


@dataclass
class MimeNode:
    """One MIME part: its headers, and its raw body or its sub-parts.

    ``headers`` is a compat32 ``Message`` used only for its header accessors; its values are
    already decoded from raw 8-bit bytes to text, but still folded and RFC 2047-encoded.
    ``raw_headers`` holds the same headers as the email package stores them, raw 8-bit bytes
    surrogate-escaped, for decoders that need the original bytes (an encoded word's payload).
    ``path`` is the IMAP part number ("1", "2.1"); a multipart root has path "".
    """

    headers: Message
    raw_headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    children: list[MimeNode] = field(default_factory=list)
    path: str = "1"
    _raw_index: dict[str, list[str]] | None = field(default=None, repr=False, compare=False)

    @property
    def content_type(self) -> str:
        """Lower-case maintype/subtype; a multipart without parts is shown as text/plain."""
        content_type = self.headers.get_content_type()
        if not self.children and content_type.startswith("multipart/"):
            return "text/plain"
        return content_type

    def raw_values(self, name: str) -> list[str]:
        """Return every raw value of the header called name (any case), in order."""
        if self._raw_index is None:
            self._raw_index = {}
            for key, value in self.raw_headers:
                self._raw_index.setdefault(key.lower(), []).append(value)
        return self._raw_index.get(name.lower(), [])

    def payload(self) -> tuple[bytes, str | None]:
        """Return the body with its transfer encoding undone, and a problem description if any."""
        return decode_body(self.body, transfer_encoding(self.headers))

    def leaves(self) -> list[MimeNode]:
        """Return the parts that are not multipart containers, depth first."""
        if not self.children:
            return [self]
        return [leaf for child in self.children for leaf in child.leaves()]


class _GiveUp(Exception):
    """The fast splitter met something it leaves to the email package."""


def _child_path(parent: str, index: int) -> str:
    return f"{parent}.{index}" if parent else str(index)


def _split_header_block(data: bytes) -> tuple[MimeNode, bytes]:
    """Split data into a node holding its headers, and the body, as the email package would."""
    node = MimeNode(Message())
    if data.startswith(b"\n"):
        return node, data[1:]
    if data.startswith(b"\r\n"):
        return node, data[2:]
    lf_lf, lf_crlf = data.find(b"\n\n"), data.find(b"\n\r\n")
    if lf_lf >= 0 and (lf_crlf < 0 or lf_lf < lf_crlf):
        block, body = data[: lf_lf + 1], data[lf_lf + 2 :]
    elif lf_crlf >= 0:
        block, body = data[: lf_crlf + 1], data[lf_crlf + 3 :]
    else:
        block, body = data, b""
    name: bytes | None = None
    value: list[bytes] = []
    for line in block.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t"):
            if name is None:
                raise _GiveUp
            value.append(line)
            continue
        match = _HEADER_NAME.match(line)
        if match is None:
            raise _GiveUp
        if name is not None:
            _store_header(node, name.decode("ascii"), value)
        name, value = match.group(0)[:-1], [line[match.end() :].lstrip(b" \t")]
    if name is not None:
        _store_header(node, name.decode("ascii"), value)
    return node, body


def _store_header(node: MimeNode, name: str, value: list[bytes]) -> None:
    # The same shape compat32 stores: folding kept, trailing line break dropped.
    raw = b"".join(value).rstrip(b"\r\n").decode("ascii", "surrogateescape")
    node.raw_headers.append((name, raw))
    node.headers.set_raw(name, fix_8bit(raw))


def _split_multipart(body: bytes, boundary: str) -> list[bytes]:
    """Return the bodies of the parts between the delimiters (RFC 2046 section 5.1.1)."""
    try:
        delimiter = b"--" + boundary.encode("ascii")
    except UnicodeEncodeError:
        raise _GiveUp from None
    parts: list[bytes] = []
    part_start: int | None = None
    pos = 0
    while True:
        found = body.find(delimiter, pos)
        if found < 0:
            raise _GiveUp
        pos = found + len(delimiter)
        if found > 0 and body[found - 1] != 0x0A:
            continue
        eol = body.find(b"\n", pos)
        line_end = len(body) if eol < 0 else eol
        tail = body[pos:line_end].rstrip(b"\r")
        closing = tail.startswith(b"--")
        # Only transport padding may follow; "--boundaryX" is a different boundary.
        if (tail[2:] if closing else tail).strip(b" \t"):
            continue
        if part_start is not None:
            # The line break before a delimiter belongs to the delimiter, not to the part.
            end = found - 1
            if end > part_start and body[end - 1] == 0x0D:
                end -= 1
            parts.append(body[part_start:end])
        elif closing:
            raise _GiveUp
        if closing:
            return parts
        part_start = pos = line_end + 1


def _fast_node(data: bytes, path: str, depth: int, default_type: str) -> MimeNode:
    node, body = _split_header_block(data)
    headers = node.headers
    if default_type != "text/plain":
        headers.set_default_type(default_type)
    if headers.get_content_maintype() != "multipart":
        node.body, node.path = body, path or "1"
        return node
    boundary = headers.get_boundary()
    encoding = transfer_encoding(headers)
    if not boundary or depth >= _MAX_DEPTH or encoding not in IDENTITY_ENCODINGS:
        raise _GiveUp
    child_type = "message/rfc822" if headers.get_content_subtype() == "digest" else "text/plain"
    node.children = [
        _fast_node(part, _child_path(path, index), depth + 1, child_type)
        for index, part in enumerate(_split_multipart(body, boundary), start=1)
    ]
    if not node.children:
        raise _GiveUp
    node.path = path
    return node


def split_fast(raw: bytes) -> MimeNode | None:
    """Split a well-formed message into its MIME tree; None when the message needs more care."""
    # A bare CR is a line break to the email package; bytes.find-based splitting would differ.
    carriage_returns = raw.count(b"\r")
    if carriage_returns and carriage_returns != raw.count(b"\r\n"):
        return None
    try:
        return _fast_node(raw, "", 0, "text/plain")
    except _GiveUp:
        return None


def _serialise(message: Message) -> bytes:
    out = io.BytesIO()
    try:
        BytesGenerator(out, mangle_from_=False, policy=policy.compat32).flatten(message)
    # A message the parser accepted can still fail to serialise; its size is then unknown.
    except Exception:
        return b""
    return out.getvalue()


def _node_from_message(message: Message, path: str | None, defects: list[str]) -> MimeNode:
    """Convert a parsed message to a node; path None means the root."""
    where = f"part {path}" if path else "message"
    path = path or ""
    defects.extend(f"{type(defect).__name__} in {where}" for defect in message.defects)
    node = MimeNode(
        Message(), raw_headers=[(name, str(value)) for name, value in message.raw_items()]
    )
    node.headers.set_default_type(message.get_default_type())
    for name, value in node.raw_headers:
        node.headers.set_raw(name, fix_8bit(value))
    # get_payload() would decode a payload holding 8-bit bytes with the declared charset; the
    # stored payload is the raw body, surrogate-escaped, which is what the decoders here expect.
    payload: object = vars(message).get("_payload")
    if message.get_content_maintype() == "multipart" and isinstance(payload, list) and payload:
        node.children = [
            _node_from_message(sub, _child_path(path, index), defects)
            for index, sub in enumerate(payload, start=1)
        ]
        node.path = path
        return node
    if isinstance(payload, list):
        # message/* parts were parsed into sub-messages; their original bytes are gone.
        body = b"".join(_serialise(sub) for sub in payload if isinstance(sub, Message))
    else:
        body = str(payload or "").encode("utf-8", "surrogateescape")
    node.body, node.path = body, path or "1"
    return node


def split_with_email_package(raw: bytes) -> tuple[MimeNode, list[str]]:
    """Split any message with the email package (compat32); return the tree and its defects."""
    defects: list[str] = []
    try:
        message = BytesParser(policy=policy.compat32).parsebytes(raw)
        return _node_from_message(message, None, defects), defects
    # Deeply nested input can exhaust the recursion limit; keep at least the headers.
    except Exception as exc:
        defects.append(f"MIME structure not parsed ({type(exc).__name__}); headers only")
    try:
        message = BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=True)
        message.set_payload("")
        return _node_from_message(message, None, defects), defects
    except Exception as exc:
        defects.append(f"headers not parsed ({type(exc).__name__})")
        return MimeNode(Message()), defects


def parse_structure(raw: bytes) -> tuple[MimeNode, list[str]]:
    """Split raw into its MIME tree, fast when possible; return the tree and its defects."""
    root = split_fast(raw)
    if root is not None:
        return root, []
    return split_with_email_package(raw)
