"""compose_message: a person's reply, threaded, to several addresses, text or HTML, and
nothing from the original or the form can add a header to it."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest

from mailroom.mime.compose import MAX_REFERENCES, compose_message

DATE = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def _compose(**overrides: Any) -> bytes:
    arguments: dict[str, Any] = {
        "from_name": "Support",
        "from_email": "support@crm.test",
        "to": ["alice@cust.test"],
        "cc": [],
        "subject": "Re: Question",
        "text": "Thanks.\n",
        "html": None,
        "message_id": "<reply1@crm.test>",
        "in_reply_to": "<m1@x.test>",
        "references": ["<r1@x.test>", "<r2@x.test>"],
        "date": DATE,
    }
    arguments.update(overrides)
    return compose_message(**arguments)


def parsed(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _header_names(raw: bytes) -> list[str]:
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    return [line.split(":", 1)[0] for line in head.split("\r\n") if not line.startswith(" ")]


def test_it_threads_the_reply_and_does_not_mark_it_automatic() -> None:
    raw = _compose()
    message = parsed(raw)
    assert message["In-Reply-To"] == "<m1@x.test>"
    assert message["References"] == "<r1@x.test> <r2@x.test> <m1@x.test>"
    assert message["Message-ID"] == "<reply1@crm.test>"
    assert message["From"] == "Support <support@crm.test>"
    names = _header_names(raw)
    assert "Auto-Submitted" not in names and "Precedence" not in names
    assert "X-Mailroom-Loop" not in names and "Cc" not in names and "Bcc" not in names


def test_references_keep_the_first_and_the_latest_ids() -> None:
    chain = [f"<r{i}@x.test>" for i in range(40)]
    message = parsed(_compose(references=chain, in_reply_to="<m1@x.test>"))
    ids = message["References"].split()
    assert len(ids) == MAX_REFERENCES
    assert ids[0] == "<r0@x.test>"
    assert ids[-2:] == ["<r39@x.test>", "<m1@x.test>"]


def test_it_writes_several_to_and_cc_addresses_folded() -> None:
    to = [f"person{i}.with.a.long.name@customer-example.test" for i in range(4)]
    raw = _compose(to=to, cc=["bob@cust.test", "carol@cust.test"])
    assert all(len(line) <= 78 for line in raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n"))
    message = parsed(raw)
    assert [a.addr_spec for a in message["To"].addresses] == to
    assert message["Cc"] == "bob@cust.test, carol@cust.test"


def test_html_goes_out_as_multipart_alternative_with_the_text_first() -> None:
    message = parsed(_compose(text="Hi *there*\n", html="<p>Hi <b>there</b></p>"))
    assert message.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]


@pytest.mark.parametrize(
    "field",
    [
        {"to": ["alice@cust.test\r\nBcc: evil@x.test"]},
        {"to": ["alice@cust.test, evil@x.test"]},
        {"cc": ["bob@cust.test>\r\nBcc: evil@x.test"]},
        {"message_id": "<a@b>\r\nBcc: evil@x.test"},
        {"to": []},
    ],
)
def test_it_refuses_what_is_not_a_single_plain_address(field: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        _compose(**field)


def test_a_subject_with_line_breaks_or_encoded_words_adds_no_header() -> None:
    for subject in ("Hi\r\nBcc: evil@x.test", "=?UTF-8?Q?Hi=0ABcc:_evil@x.test?="):
        raw = _compose(subject=subject)
        names = _header_names(raw)
        assert "Bcc" not in names
        assert names.count("Subject") == 1
        assert "evil@x.test" in str(parsed(raw)["Subject"])
