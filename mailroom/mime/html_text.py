"""HTML mail as readable plain text (for Lead notes and other fields that hold text)."""

from __future__ import annotations

import contextlib
import functools
import re
from html.parser import HTMLParser

_BLOCKS = frozenset(
    {
        "p", "div", "br", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6",
        "blockquote", "pre", "hr", "section", "article", "header", "footer", "dt", "dd",
    }
)  # fmt: skip
_HIDDEN = frozenset({"script", "style", "head", "title", "template", "noscript"})
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n{3,}")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BLOCKS and tag != "li":  # the next item starts its own line
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


# Processing one message asks for the text of its HTML several times (rule fields, reply
# language, the Case or Lead text); Python's HTML parser reads about a megabyte a second, so a
# 4 MB newsletter would cost seconds each time. The same str gives the same text.
@functools.lru_cache(maxsize=16)
def html_to_text(html: str) -> str:
    """The text of ``html``: tags dropped, scripts and styles left out, entities decoded,
    blocks on their own lines, runs of spaces and blank lines collapsed."""
    parser = _Text()
    # HTMLParser is lenient; should it still refuse something, what it read so far is kept.
    with contextlib.suppress(Exception):
        parser.feed(html)
        parser.close()
    lines = [_SPACES.sub(" ", line).strip() for line in "".join(parser.parts).split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
