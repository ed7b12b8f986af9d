"""Render a response template in a language, substituting allow-listed placeholders only.

Templates are written by administrators but filled with text the sender chose (their name, the
subject). So nothing is evaluated: ``{{ name }}`` placeholders from a fixed list are replaced in
one pass by plain values, anything else (``{{ 7*7 }}``, ``{% … %}``, ``${…}``) stays literal, and
a value containing ``{{ … }}`` is never expanded again.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

# The placeholders a template may use; anything else is left as written.
PLACEHOLDERS = (
    "sender_name",
    "sender_email",
    "subject",
    "mailbox_label",
    "mailbox_email",
    "case_number",
    "lead_number",
    "record_url",
    "date",
)

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")


class TemplateMissing(Exception):
    """The template has no translation to render at all."""


@dataclass(frozen=True)
class Translation:
    """A template's text in one language."""

    language: str
    subject: str
    body: str


@dataclass(frozen=True)
class RenderedEmail:
    """A rendered response: the subject, the text body and the HTML body (or None)."""

    language: str
    subject: str
    text: str
    html: str | None


def choose_translation(
    translations: list[Translation], wanted: list[str], default_language: str
) -> Translation:
    """Pick a translation: each of ``wanted`` in order, then the template's default language,
    then English, then the first one there is. No translation at all is an error."""
    by_language = {t.language.lower(): t for t in translations}
    for language in [*wanted, default_language, "en"]:
        found = by_language.get(language.lower())
        if found is not None:
            return found
    if translations:
        return translations[0]
    raise TemplateMissing("the template has no translation")


def substitute(text: str, values: dict[str, str], *, escape: bool = False) -> str:
    """Replace known placeholders by their values in one pass."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in PLACEHOLDERS or name not in values:
            return match.group(0)
        value = values[name]
        return html.escape(value) if escape else value

    return _PLACEHOLDER.sub(replace, text)


def _html_to_text(markup: str) -> str:
    with_breaks = re.sub(r"<br\s*/?>|</p>|</div>|</li>|</h\d>", "\n", markup, flags=re.IGNORECASE)
    return html.unescape(re.sub(r"<[^>]*>", "", with_breaks)).strip() + "\n"


def render(
    translations: list[Translation],
    *,
    is_html: bool,
    wanted_languages: list[str],
    default_language: str,
    values: dict[str, str],
) -> RenderedEmail:
    """Render subject and body; header-bound text has line breaks removed."""
    chosen = choose_translation(translations, wanted_languages, default_language)
    subject = " ".join(substitute(chosen.subject, values).split())
    if is_html:
        html_body = substitute(chosen.body, values, escape=True)
        # The text alternative comes from the template's markup, before any value is put in,
        # so a value that looks like a tag stays as text instead of being stripped.
        text = substitute(_html_to_text(chosen.body), values)
        return RenderedEmail(chosen.language, subject, text, html_body)
    return RenderedEmail(chosen.language, subject, substitute(chosen.body, values), None)
