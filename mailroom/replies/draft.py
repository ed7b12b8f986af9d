"""What a reply to a stored message starts with, and the parts of its body: pure functions.

The subject gets one "Re: " (never "Re: Re:"); the reply goes to the message's Reply-To, else
its From; the original is quoted below the answer as mail clients do ("On <date>, <sender>
wrote:" and ``> `` before each line of its text).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser
from typing import Any

from mailroom.mime.html_text import html_to_text

# "Re:", "RE :", "Re[2]:", and the German, Scandinavian and Dutch forms mail clients write.
_REPLY_PREFIX = re.compile(r"^\s*(?:re|aw|sv|antw)\s*(?:\[\d+\])?\s*:\s*", re.IGNORECASE)
# The longest original quoted below a reply; the rest is cut with a note.
QUOTE_LIMIT = 20_000


def reply_subject(subject: str) -> str:
    """``subject`` with one "Re: " in front, whatever reply prefixes it had."""
    rest = " ".join(subject.split())
    while True:
        stripped = _REPLY_PREFIX.sub("", rest, count=1)
        if stripped == rest:
            break
        rest = stripped
    return f"Re: {rest}" if rest else "Re:"


@dataclass(frozen=True)
class Original:
    """What the quote of a message needs from it."""

    date: datetime | None
    sender_name: str
    sender_email: str
    text: str
    html: str = ""

    @property
    def body_text(self) -> str:
        """Its text part, else its HTML part as text, cut at QUOTE_LIMIT characters."""
        text = self.text if self.text.strip() else html_to_text(self.html)
        text = text.replace("\r\n", "\n").strip("\n")
        if len(text) > QUOTE_LIMIT:
            text = text[:QUOTE_LIMIT].rstrip() + "\n[…]"
        return text


def attribution(original: Original) -> str:
    """The line above the quote: "On Tue, 3 Mar 2026 at 10:15, Alice <a@x> wrote:"."""
    if original.sender_name and original.sender_email:
        sender = f"{original.sender_name} <{original.sender_email}>"
    else:
        sender = original.sender_name or original.sender_email or "the sender"
    if original.date is None:
        return f"{sender} wrote:"
    when = f"{original.date:%a}, {original.date.day} {original.date:%b %Y at %H:%M}"
    return f"On {when}, {sender} wrote:"


def quote_text(original: Original) -> str:
    """The attribution and the original's text with "> " before each line."""
    lines = [f"> {line}" if line else ">" for line in original.body_text.split("\n")]
    return attribution(original) + "\n" + "\n".join(lines)


def quote_html(original: Original) -> str:
    """The attribution and the original's text (escaped) in a blockquote."""
    body = html.escape(original.body_text).replace("\n", "<br>\n")
    return (
        f"<p>{html.escape(attribution(original))}</p>\n"
        '<blockquote style="margin:0 0 0 .8ex;border-left:1px solid #ccc;padding-left:1ex">'
        f"{body}</blockquote>"
    )


def text_with_quote(text: str, original: Original | None) -> str:
    """The text part: the answer, then the quote when there is an original to quote."""
    text = text.replace("\r\n", "\n").rstrip()
    if original is None:
        return text + "\n"
    return f"{text}\n\n{quote_text(original)}\n"


def html_with_quote(markup: str, original: Original | None) -> str:
    """The HTML part: the (cleaned) answer, then the quote."""
    if original is None:
        return markup
    return f"{markup}\n{quote_html(original)}"


class _ReadableText(HTMLParser):
    """Cleaned reply HTML as the text a plain-text reader sees: blocks on their own lines,
    list items with "-" or their number, links followed by their address."""

    _BLOCKS = frozenset({"p", "div", "br", "blockquote", "pre", "h1", "h2", "h3"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.lists: list[list[int]] = []
        self.links: list[tuple[str, int]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._BLOCKS:
            self.parts.append("\n")
        if tag in ("ul", "ol"):
            self.parts.append("\n")
            self.lists.append([0 if tag == "ol" else -1])
        elif tag == "li":
            counter = self.lists[-1] if self.lists else [-1]
            if counter[0] >= 0:
                counter[0] += 1
                self.parts.append(f"\n{counter[0]}. ")
            else:
                self.parts.append("\n- ")
        elif tag == "a":
            self.links.append((dict(attrs).get("href") or "", len(self.parts)))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("ul", "ol") and self.lists:
            self.lists.pop()
            self.parts.append("\n")
        elif tag in self._BLOCKS:
            self.parts.append("\n")
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            label = "".join(self.parts[start:]).strip()
            target = href.removeprefix("mailto:")
            if href and target != label:
                self.parts.append(f" <{target}>")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def readable_text(markup: str) -> str:
    """The plain-text alternative of a reply's (cleaned) HTML."""
    parser = _ReadableText()
    parser.feed(markup)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def addresses_of(entries: Any) -> list[str]:
    """The email addresses of a stored address list (``[{"name": …, "email": …}]``)."""
    found = []
    for entry in entries or []:
        email = entry.get("email", "") if isinstance(entry, dict) else ""
        if email:
            found.append(str(email))
    return found
