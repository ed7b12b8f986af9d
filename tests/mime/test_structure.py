"""The MIME splitter: the fast path agrees with the email package, and knows when to give up."""

from __future__ import annotations

import pytest

from mailroom.mime.structure import (
    MimeNode,
    parse_structure,
    split_fast,
    split_with_email_package,
)
from tests.mime.helpers import build, corpus_files

ALL_FILES = corpus_files("mixed") + corpus_files("automated")


def _leaves(root: MimeNode) -> list[tuple[str, str, str | None, bytes | None]]:
    # message/* parts are re-serialised by the email package, so only their place is compared.
    return [
        (
            leaf.path,
            leaf.content_type,
            leaf.headers.get_filename(),
            None if leaf.content_type.startswith("message/") else leaf.payload()[0],
        )
        for leaf in root.leaves()
    ]


def test_it_splits_like_the_email_package_whenever_it_takes_the_fast_path() -> None:
    fast_files, disagreements = 0, []
    for path in ALL_FILES:
        raw = path.read_bytes()
        fast = split_fast(raw)
        if fast is None:
            continue
        fast_files += 1
        reference, defects = split_with_email_package(raw)
        same = fast.raw_headers == reference.raw_headers and _leaves(fast) == _leaves(reference)
        if defects or not same:
            disagreements.append(path.name)
    assert disagreements == []
    # The point of the fast path is that it is the common one.
    assert fast_files > 0.75 * len(ALL_FILES)


MULTIPART = "Content-Type: multipart/mixed; boundary=b"


@pytest.mark.parametrize(
    ("raw", "defect"),
    [
        (b"Subject: a\rb\r\n\r\nbody", None),
        (b"Subject: a\r\nnot a header line\r\n\r\nbody", "MissingHeaderBodySeparatorDefect"),
        (b" continuation first\r\nSubject: a\r\n\r\nbody", "FirstHeaderLineIsContinuationDefect"),
        (build(MULTIPART, body="--b\r\n\r\npart\r\n"), "CloseBoundaryNotFoundDefect"),
        (build(MULTIPART, body="no delimiter\r\n"), "StartBoundaryNotFoundDefect"),
        (build("Content-Type: multipart/mixed", body="x\r\n"), "NoBoundaryInMultipartDefect"),
    ],
    ids=["bare-cr", "bad-header", "leading-continuation", "unclosed", "no-start", "no-boundary"],
)
def test_it_leaves_broken_structure_to_the_email_package(raw: bytes, defect: str | None) -> None:
    assert split_fast(raw) is None
    _root, defects = parse_structure(raw)
    if defect is not None:
        assert any(found.startswith(defect) for found in defects)


def test_it_splits_parts_without_the_line_break_before_a_delimiter() -> None:
    body = (
        "preamble\r\n--b\r\n\r\none\r\n\r\n--b \r\nContent-Type: text/html\r\n\r\ntwo\r\n--b--\r\n"
    )
    root = split_fast(build(MULTIPART, body=body))
    assert root is not None
    assert [(leaf.path, leaf.content_type, leaf.body) for leaf in root.leaves()] == [
        ("1", "text/plain", b"one\r\n"),
        ("2", "text/html", b"two"),
    ]


def test_it_ignores_a_longer_boundary_sharing_the_prefix() -> None:
    body = "--b\r\n\r\none\r\n--bx\r\nstill one\r\n--b--\r\n"
    root = split_fast(build(MULTIPART, body=body))
    assert root is not None
    assert [leaf.body for leaf in root.leaves()] == [b"one\r\n--bx\r\nstill one"]


def test_it_defaults_digest_parts_to_message_rfc822() -> None:
    body = "--b\r\n\r\nSubject: inner\r\n\r\ntext\r\n--b--\r\n"
    root = split_fast(build("Content-Type: multipart/digest; boundary=b", body=body))
    assert root is not None
    assert [leaf.content_type for leaf in root.leaves()] == ["message/rfc822"]
