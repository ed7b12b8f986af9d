"""The reply's starting point: one "Re: ", the quote, and the text of an HTML answer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mailroom.replies.draft import Original, quote_html, quote_text, readable_text, reply_subject
from mailroom.replies.sent_copy import NoSentFolder, choose_sent_folder
from mailroom.transport.imap import FolderInfo


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Printer", "Re: Printer"),
        ("Re: Printer", "Re: Printer"),
        ("RE: Re: re:Printer", "Re: Printer"),
        ("AW: Re[2]: Drucker", "Re: Drucker"),
        ("Sv: Skrivare", "Re: Skrivare"),
        ("", "Re:"),
        ("Regarding the printer", "Re: Regarding the printer"),
    ],
)
def test_the_subject_gets_one_re(subject: str, expected: str) -> None:
    assert reply_subject(subject) == expected


ORIGINAL = Original(
    date=datetime(2026, 3, 3, 10, 15, tzinfo=UTC),
    sender_name="Alice Martin",
    sender_email="alice@cust.test",
    text="Hello,\r\n\r\n> earlier\r\nAlice <script>x</script>\r\n",
)


def test_the_quote_says_who_wrote_when_and_prefixes_each_line() -> None:
    assert quote_text(ORIGINAL) == (
        "On Tue, 3 Mar 2026 at 10:15, Alice Martin <alice@cust.test> wrote:\n"
        "> Hello,\n>\n> > earlier\n> Alice <script>x</script>"
    )
    markup = quote_html(ORIGINAL)
    assert "&lt;script&gt;" in markup and "<script>" not in markup
    assert "Alice Martin &lt;alice@cust.test&gt; wrote:" in markup


def test_an_html_only_original_is_quoted_as_text() -> None:
    original = Original(None, "", "bob@cust.test", "", "<p>Hi <b>there</b></p><p>Bob</p>")
    assert quote_text(original) == "bob@cust.test wrote:\n> Hi there\n>\n> Bob"


def test_the_text_part_of_html_keeps_links_and_lists() -> None:
    markup = (
        "<p>Hello <b>Alice</b>,</p><ol><li>open the tray</li><li>remove the seal</li></ol>"
        '<ul><li>see <a href="https://help.example.test/toner">the guide</a></li></ul>'
        '<p><a href="mailto:help@example.test">help@example.test</a></p>'
    )
    assert readable_text(markup) == (
        "Hello Alice,\n\n1. open the tray\n2. remove the seal\n\n"
        "- see the guide <https://help.example.test/toner>\n\nhelp@example.test"
    )


def _folders(*rows: tuple[str, tuple[str, ...]]) -> list[FolderInfo]:
    return [FolderInfo(name, "/", flags) for name, flags in rows]


def test_the_sent_folder_is_the_configured_one_then_special_use_then_by_name() -> None:
    folders = _folders(
        ("INBOX", ()),
        ("Sent Items", ()),
        ("Gesendet", ("\\HasNoChildren", "\\Sent")),
        ("Archive/Replies", ()),
    )
    assert choose_sent_folder(folders, "Archive/Replies") == "Archive/Replies"
    assert choose_sent_folder(folders, "") == "Gesendet"
    assert choose_sent_folder(folders[:2], "") == "Sent Items"
    assert choose_sent_folder(_folders(("INBOX/Sent Messages", ())), "") == "INBOX/Sent Messages"


def test_no_sent_folder_is_an_error_with_its_reason() -> None:
    with pytest.raises(NoSentFolder, match="does not exist"):
        choose_sent_folder(_folders(("INBOX", ())), "Sent\r\nX CREATE y")
    with pytest.raises(NoSentFolder, match="marks no folder as Sent"):
        choose_sent_folder(_folders(("INBOX", ()), ("Sent", ("\\Noselect",))), "")
