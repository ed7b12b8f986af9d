"""HTML written into a response template, made safe when it is saved (nh3, the Rust ammonia
sanitiser): an administrator's template is sent to strangers, and a pasted snippet must not
carry a script, an event handler, a form or a ``javascript:`` link into their mail client.

What stays is what a reply needs: text formatting, lists, tables, links (http, https, mailto)
and images by URL. Placeholders (``{{ sender_name }}``) are plain text to the sanitiser and
survive it; their values are escaped when the reply is rendered.
"""

from __future__ import annotations

import nh3

_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "div", "em", "h1", "h2", "h3", "h4", "hr",
    "i", "img", "li", "ol", "p", "pre", "small", "span", "strong", "sub", "sup", "table",
    "tbody", "td", "th", "thead", "tr", "u", "ul",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align"},
    "*": {"dir", "lang"},
}
_SCHEMES = {"http", "https", "mailto"}


def clean_template_html(markup: str) -> str:
    """``markup`` with everything outside the allow-list removed (scripts and styles with
    their content)."""
    return nh3.clean(
        markup,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes=_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
