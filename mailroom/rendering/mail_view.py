"""The HTML of a received email, made safe to show to the people who read the mailbox.

The stored ``html_body`` stays as it came; it is cleaned here each time it is shown, so a
better allow-list helps every message already stored. nh3 (the Rust ammonia sanitiser) keeps
the markup mail is written in (text, tables, images, inline and ``<style>`` CSS) and drops the
rest: scripts, event handlers, forms, frames, objects, SVG and MathML, ``<meta>``, ``<base>``
and ``<link>``. Links open in a new tab without an opener or a referrer; only ``http``,
``https`` and ``mailto`` links stay.

Remote content (images, backgrounds, CSS ``url()``) is what tells a sender that and when the
mail was read, so it is removed unless the reader allowed it for this message, and the result
says how much was removed (the page then offers to show it). ``cid:`` references become the
URLs of the message's own inline images. CSS that can reach further (``@import``,
``expression()``, bindings, escapes that hide a ``url(``) is taken out whatever the choice.
None of this replaces the frame's sandbox and Content-Security-Policy: it is the layer before
them, and the one that keeps a stored message readable when it is saved or printed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from html import escape
from urllib.parse import unquote

import nh3

_TAGS = {
    "a", "abbr", "acronym", "address", "b", "bdi", "bdo", "big", "blockquote", "br", "caption",
    "center", "cite", "code", "col", "colgroup", "dd", "del", "dfn", "div", "dl", "dt", "em",
    "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark",
    "ol", "p", "pre", "q", "rp", "rt", "ruby", "s", "samp", "small", "span", "strike",
    "strong", "style", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "time",
    "tr", "tt", "u", "ul", "var", "wbr",
}  # fmt: skip
# Removed with everything inside them, not just their tags.
_DROPPED_WITH_CONTENT = {
    "script", "title", "template", "noscript", "iframe", "object", "embed", "svg", "math",
    "select", "textarea", "button", "audio", "video", "canvas", "applet", "frameset", "xmp",
    "noembed", "noframes",
}  # fmt: skip
_LAYOUT = {"align", "valign", "width", "height", "bgcolor", "background", "border"}
_ATTRIBUTES = {
    "*": {"style", "class", "dir", "lang", "title"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height", "border", "align", "hspace", "vspace"},
    "font": {"color", "face", "size"},
    "table": _LAYOUT | {"cellpadding", "cellspacing"},
    "td": _LAYOUT | {"colspan", "rowspan", "nowrap"},
    "th": _LAYOUT | {"colspan", "rowspan", "nowrap"},
    "tr": _LAYOUT,
    "tbody": _LAYOUT,
    "thead": _LAYOUT,
    "tfoot": _LAYOUT,
    "col": _LAYOUT | {"span"},
    "colgroup": _LAYOUT | {"span"},
    "div": {"align"},
    "p": {"align"},
    "h1": {"align"}, "h2": {"align"}, "h3": {"align"}, "h4": {"align"},
    "hr": {"align", "width", "size", "noshade"},
    "ol": {"start", "type"},
    "ul": {"type"},
    "li": {"value"},
    "time": {"datetime"},
}  # fmt: skip
# ``cid`` must pass nh3's scheme check to reach the filter, which rewrites it; everything
# else (data:, javascript:, relative URLs) is dropped by one or the other.
_SCHEMES = {"http", "https", "mailto", "cid"}
_LINK_SCHEMES = ("http://", "https://", "mailto:")
_REMOTE = ("http://", "https://", "//")

# Properties a mail's inline style may set; anything else (position, behavior, content…)
# goes, so a mail cannot lay a fake form over the page or hide text behind another.
_STYLE_PROPERTIES = {
    "background", "background-color", "background-image", "background-position",
    "background-repeat", "background-size", "border", "border-bottom", "border-bottom-color",
    "border-bottom-style", "border-bottom-width", "border-collapse", "border-color",
    "border-left", "border-left-color", "border-left-style", "border-left-width",
    "border-radius", "border-right", "border-right-color", "border-right-style",
    "border-right-width", "border-spacing", "border-style", "border-top", "border-top-color",
    "border-top-style", "border-top-width", "border-width", "caption-side", "clear", "color",
    "direction", "display", "float", "font", "font-family", "font-size", "font-style",
    "font-variant", "font-weight", "height", "letter-spacing", "line-height", "list-style",
    "list-style-position", "list-style-type", "margin", "margin-bottom", "margin-left",
    "margin-right", "margin-top", "max-height", "max-width", "min-height", "min-width",
    "opacity", "overflow", "padding", "padding-bottom", "padding-left", "padding-right",
    "padding-top", "table-layout", "text-align", "text-decoration", "text-indent",
    "text-transform", "vertical-align", "visibility", "white-space", "width", "word-break",
    "word-spacing", "word-wrap", "overflow-wrap",
}  # fmt: skip
# Anything that can run code or load from elsewhere outside ``url()``; case-insensitive.
_CSS_FORBIDDEN = re.compile(
    r"expression\s*\(|javascript:|vbscript:|behavior|-moz-binding|image-set|@import|[\\<]",
    re.IGNORECASE,
)
_CSS_COMMENT = re.compile(r"/\*.*?(?:\*/|$)", re.DOTALL)
_CSS_ESCAPE = re.compile(r"\\(?:([0-9a-fA-F]{1,6})[ \t\r\n\f]?|(.))", re.DOTALL)
_CSS_IMPORT = re.compile(r"@import[^;]*;?", re.IGNORECASE)
_CSS_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s]*))\s*\)|url\(""", re.IGNORECASE)


@dataclass(frozen=True)
class MailHtml:
    """A mail's HTML made safe; ``blocked`` counts the remote references taken out."""

    html: str
    blocked: int


def _unescape(match: re.Match[str]) -> str:
    """The character a CSS escape stands for, so that ``\\75rl(`` is seen as the ``url(`` a
    browser reads; NUL, surrogates and values beyond Unicode become U+FFFD, as in CSS."""
    code, char = match.groups()
    if code is None:
        return str(char)
    value = int(code, 16)
    if value == 0 or 0xD800 <= value <= 0xDFFF or value > 0x10FFFF:
        return "\ufffd"
    return chr(value)


class _Cleaning:
    """One cleaning pass: the choices it was made with and what it took out."""

    def __init__(self, inline_urls: Mapping[str, str], allow_remote: bool) -> None:
        self.inline_urls = {key.lower(): url for key, url in inline_urls.items()}
        self.allow_remote = allow_remote
        self.blocked = 0

    def url(self, value: str, *, link: bool = False) -> str | None:
        """Where an attribute may point: its own inline image, a remote URL when allowed (any
        web link, since a link loads nothing until it is clicked), or nowhere."""
        value = value.strip()
        lowered = value.lower()
        if lowered.startswith("cid:"):
            return self.inline_urls.get(unquote(value[4:]).strip("<>").lower())
        if link:
            return value if lowered.startswith(_LINK_SCHEMES) else None
        if lowered.startswith(_REMOTE):
            if self.allow_remote:
                return value
            self.blocked += 1
        return None

    def css_url(self, match: re.Match[str]) -> str:
        target = next((g for g in match.groups() if g is not None), None)
        url = self.url(target) if target is not None else None
        if url is None:
            return "none"
        return 'url("' + url.replace('"', "%22") + '")'

    def css(self, text: str) -> str:
        """A stylesheet or style attribute without imports, code or unwanted URLs."""
        text = _CSS_ESCAPE.sub(_unescape, _CSS_COMMENT.sub(" ", text))
        if _CSS_IMPORT.search(text) and not self.allow_remote:
            self.blocked += 1
        text = _CSS_IMPORT.sub("", text)
        text = _CSS_URL.sub(self.css_url, text)
        # What is left of the forbidden forms is made unrecognisable, never half-kept.
        return _CSS_FORBIDDEN.sub("_", text)

    def style_attribute(self, value: str) -> str | None:
        kept: list[str] = []
        for declaration in self.css(value).split(";"):
            name, colon, setting = declaration.partition(":")
            name = name.strip().lower()
            if colon and name in _STYLE_PROPERTIES and setting.strip():
                kept.append(f"{name}:{setting.strip()}")
        return ";".join(kept) or None

    def attribute(self, tag: str, name: str, value: str) -> str | None:
        # nh3 asks about the attributes of elements it then drops with their content; what
        # they point to is not counted as blocked, since showing it would load nothing. A
        # <style> element keeps no attribute, so its start tag is always "<style>".
        if tag not in _TAGS or tag == "style":
            return None
        if name == "href":
            return self.url(value, link=True)
        if name in ("src", "background"):
            return self.url(value)
        if name == "style":
            return self.style_attribute(value)
        return value


# What any remote reference in a mail looks like before cleaning; a mail without one of these
# has nothing to hold back, and is not cleaned just to learn so.
# Character references count: nh3 decodes them, so "&#117;rl(" is a "url(" once cleaned.
_MAYBE_REMOTE = re.compile(
    r"(?:src|background)\s*=|url\s*[(&]|@import|&commat|&#|\\", re.IGNORECASE
)


def blocked_remote(markup: str) -> int:
    """How many remote references cleaning ``markup`` without remote content takes out."""
    if not _MAYBE_REMOTE.search(markup):
        return 0
    return clean_mail_html(markup, inline_urls={}).blocked


_STYLE_ELEMENT = re.compile(r"(<style[^>]*>)(.*?)(</style>)", re.DOTALL | re.IGNORECASE)

# Block elements that nest inside one another when left open. For each one opened, the HTML
# parser looks down the stack of open elements (for a <p> to close), so a mail of 200,000
# nested <div>s takes nh3 hours: quadratic in the depth. No mail shows anything at a depth of
# hundreds, so start tags beyond this depth (and as many end tags of the same name) are left
# out before cleaning; mail that stays shallower is not touched.
_MAX_BLOCK_DEPTH = 400
_NESTING_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "center", "details", "dialog", "dir",
        "div", "dl", "fieldset", "figcaption", "figure", "footer", "form", "header", "hgroup",
        "listing", "main", "menu", "nav", "ol", "pre", "section", "summary", "ul",
    }
)  # fmt: skip
_BLOCK_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)(?=[\s/>])[^>]*>?")


def _capped_nesting(markup: str) -> str:
    """``markup`` with block elements nested deeper than ``_MAX_BLOCK_DEPTH`` flattened."""
    if markup.count("<") <= _MAX_BLOCK_DEPTH:
        return markup
    depth = 0
    dropped: dict[str, int] = {}

    def tag(match: re.Match[str]) -> str:
        nonlocal depth
        name = match.group(2).lower()
        if name not in _NESTING_BLOCKS:
            return match.group(0)
        if match.group(1):
            if dropped.get(name):
                dropped[name] -= 1
                return ""
            depth = max(0, depth - 1)
            return match.group(0)
        if depth >= _MAX_BLOCK_DEPTH:
            dropped[name] = dropped.get(name, 0) + 1
            return ""
        depth += 1
        return match.group(0)

    return _BLOCK_TAG.sub(tag, markup)


def clean_mail_html(
    markup: str, *, inline_urls: Mapping[str, str], allow_remote: bool = False
) -> MailHtml:
    """``markup`` as it may be shown: see the module's docstring.

    ``inline_urls`` maps a Content-ID (without angle brackets) to the URL its image is served
    from; a ``cid:`` reference to anything else is dropped.
    """
    cleaning = _Cleaning(inline_urls, allow_remote)
    attribute: Callable[[str, str, str], str | None] = cleaning.attribute
    cleaned = nh3.clean(
        _capped_nesting(markup),
        tags=_TAGS,
        clean_content_tags=_DROPPED_WITH_CONTENT,
        attributes=_ATTRIBUTES,
        attribute_filter=attribute,
        url_schemes=_SCHEMES,
        link_rel="noopener noreferrer",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        strip_comments=True,
    )
    # nh3 keeps a <style> element's text as it is; its CSS is cleaned here. In nh3's output
    # a "<" is markup (text and attribute values have it escaped as "&lt;"), and the parser
    # has already ended the element at the first "</style", so its text cannot hold one.
    html = _STYLE_ELEMENT.sub(lambda m: "<style>" + cleaning.css(m.group(2)) + m.group(3), cleaned)
    return MailHtml(html=html, blocked=cleaning.blocked)


_DOCUMENT = """<!doctype html>
<html><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">
<style>html,body{{margin:0;padding:0;background:#fff}}body{{padding:12px;font:15px/1.45 \
system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d2330;overflow-wrap:break-word}}\
img{{max-width:100%;height:auto}}pre{{white-space:pre-wrap}}</style>
</head><body>
{body}
</body></html>
"""


def mail_document(body: MailHtml) -> str:
    """The whole page the frame shows: the cleaned HTML with the frame's base style."""
    return _DOCUMENT.format(body=body.html)


def content_security_policy(*, allow_remote: bool) -> str:
    """The policy the frame's page is served with: nothing runs, nothing is sent, and images
    and styles come from this server unless the reader allowed remote content."""
    remote = " http: https:" if allow_remote else ""
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'none'",
            f"img-src 'self'{remote}",
            f"style-src 'unsafe-inline'{remote}",
            f"font-src 'self'{remote}",
            "frame-ancestors 'self'",
            "form-action 'none'",
            "base-uri 'none'",
            # The frame's own sandbox, again, for a page opened outside the frame.
            "sandbox allow-same-origin allow-popups allow-popups-to-escape-sandbox",
        )
    )


_TEXT_LINK = re.compile(r"\b(?:https?://|www\.)[^\s<>\"'`]+", re.IGNORECASE)
# Punctuation that ends a sentence rather than the address it follows.
_TRAILING = ".,;:!?)]}*_&"


def _text_link(match: re.Match[str]) -> str:
    text = match.group(0)
    url = text.rstrip(_TRAILING)
    # An address in parentheses keeps its own closing parenthesis, as in Wikipedia links.
    if url.count("(") > url.count(")") and text[len(url) : len(url) + 1] == ")":
        url += ")"
    rest = text[len(url) :]
    href = url if "://" in url else "https://" + url
    return (
        f'<a href="{escape(href)}" target="_blank" rel="noopener noreferrer">{escape(url)}</a>'
        f"{escape(rest)}"
    )


def linked_text(text: str) -> str:
    """The text part of a mail as HTML: every character escaped, web addresses made links
    that open in a new tab (the address the reader sees is the one the link goes to)."""
    out: list[str] = []
    position = 0
    for match in _TEXT_LINK.finditer(text):
        out.append(escape(text[position : match.start()]))
        out.append(_text_link(match))
        position = match.end()
    out.append(escape(text[position:]))
    return "".join(out)
