"""Full-text search of a mailbox's mail: subject, sender (name and address) and body.

What a person types is never SQL or a query language: it is split into terms (words, or
"quoted phrases"), and each term becomes a quoted phrase of the database's own full-text
syntax, passed as a query parameter. Operators (``AND``, ``NEAR``, ``-``, ``*``, ``:``,
parentheses, quotes) are plain text to match, never syntax. Every term must match (in any of
the three fields); the last one also matches as the start of a word, so results follow the
typing.

SQLite (embedded) searches the FTS5 table ``mailroom_message_search`` (migration 0014);
PostgreSQL (scale-out) the GIN index over ``to_tsvector('simple', mailroom_unaccent(…))``
(0014, folding diacritics since 0016). Both fold case and diacritics: "muller" finds "Müller".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property

from django.db import connection
from django.db.models import F, Func, IntegerField, QuerySet
from django.db.models.expressions import RawSQL

from mailroom.models import Message

MAX_LENGTH = 200
MAX_TERMS = 12
# A search matching at least this many messages is "common": see :func:`matching`.
COMMON = 2000
_FTS5 = "SELECT rowid FROM mailroom_message_search WHERE mailroom_message_search MATCH %s"

# A term is a "quoted phrase" or a run of anything but white space.
_TERM = re.compile(r'"([^"]*)"?|(\S+)')
# What both full-text indexes treat as a word: letters, digits (of any script).
_WORD = re.compile(r"[^\W_]+")

# The document PostgreSQL's index covers, exactly as migration 0016 wrote it. The address is
# split into words (PostgreSQL's parser would keep it one token), as SQLite's tokenizer does;
# diacritics are folded (mailroom_unaccent), as SQLite's remove_diacritics does.
POSTGRES_DOCUMENT = (
    "to_tsvector('simple'::regconfig, mailroom_unaccent(subject || ' ' || from_name || ' ' "
    "|| translate(from_email, '@.-_+', '     ') || ' ' "
    "|| left(CASE WHEN text_body <> '' THEN text_body ELSE html_body END, 100000)))"
)


class SearchError(ValueError):
    """The text cannot be searched for; ``str()`` says why, in words for the person."""


@dataclass(frozen=True)
class Terms:
    """What to look for: each term a list of words that must follow each other."""

    phrases: tuple[tuple[str, ...], ...]

    @cached_property
    def common(self) -> bool:
        """Whether at least :data:`COMMON` messages (of all mailboxes) match, on SQLite; asked
        once per search, however many times a page's query uses it."""
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM ({_FTS5} LIMIT %s)", [self.fts5(), COMMON])  # noqa: S608
            row = cursor.fetchone()
        return bool(row and row[0] >= COMMON)

    def fts5(self) -> str:
        """An FTS5 query: every phrase quoted; the last one a prefix."""
        parts = []
        for position, words in enumerate(self.phrases):
            phrase = '"' + " ".join(words).replace('"', '""') + '"'
            if position == len(self.phrases) - 1:
                phrase += "*"
            parts.append(phrase)
        return " AND ".join(parts)

    def postgres(self) -> tuple[str, list[str]]:
        """A PostgreSQL tsquery expression and its parameters: each phrase through
        ``phraseto_tsquery`` (PostgreSQL's parser reads it as it read the mail), joined by
        ``&&``; a last phrase of one word is a prefix (``'word':*``, letters and digits only,
        so nothing in it is tsquery syntax). What was typed is folded as the mail was."""
        parts: list[str] = []
        params: list[str] = []
        for position, words in enumerate(self.phrases):
            if position == len(self.phrases) - 1 and len(words) == 1:
                parts.append("to_tsquery('simple'::regconfig, mailroom_unaccent(%s))")
                params.append(f"'{words[0]}':*")
            else:
                parts.append("phraseto_tsquery('simple'::regconfig, mailroom_unaccent(%s))")
                params.append(" ".join(words))
        return " && ".join(parts), params


def parse(text: str) -> Terms | None:
    """The terms of ``text``, or None when it holds nothing to search for (blank, or only
    punctuation). Raises :class:`SearchError` for text too long to be a search."""
    text = unicodedata.normalize("NFKC", text).strip()
    if not text:
        return None
    if len(text) > MAX_LENGTH:
        raise SearchError(f"Search for at most {MAX_LENGTH} characters.")
    phrases: list[tuple[str, ...]] = []
    for match in _TERM.finditer(text):
        term = match.group(1) if match.group(1) is not None else match.group(2)
        words = tuple(word.casefold() for word in _WORD.findall(term))
        if words:
            phrases.append(words)
    if not phrases:
        return None
    if len(phrases) > MAX_TERMS:
        raise SearchError(f"Search for at most {MAX_TERMS} words or phrases at a time.")
    return Terms(tuple(phrases))


class NotIndexed(Func):
    """``+column``: SQLite then uses no index for a condition on it (the planner's hint)."""

    template = "+%(expressions)s"
    output_field = IntegerField()


def matching(messages: QuerySet[Message], terms: Terms) -> QuerySet[Message]:
    """The messages of ``messages`` that contain every term.

    On SQLite, how the page is found depends on how common the terms are, which the planner
    cannot know. Rare terms (a name, an order number): the matches are few, so they lead (each
    looked up by id, the few sorted). Common terms (a word in half the mail): the list is read
    in its index order and each row tested against the matches, so a page stops after 50 hits
    instead of sorting tens of thousands. Counting up to :data:`COMMON` matches decides; it
    costs well under a millisecond, as FTS5 stops at the limit.
    """
    # The SQL is constant text; what was typed only ever travels as a parameter.
    if connection.vendor == "postgresql":
        query, params = terms.postgres()
        found = RawSQL(  # noqa: S611
            f"SELECT id FROM mailroom_message WHERE {POSTGRES_DOCUMENT} @@ ({query})",  # noqa: S608
            params,
        )
        return messages.filter(pk__in=found)
    text = terms.fts5()
    found = RawSQL(_FTS5, [text])  # noqa: S611
    if not terms.common:
        return messages.filter(pk__in=found)
    return messages.alias(search_id=NotIndexed(F("id"))).filter(search_id__in=found)


def matches_between(terms: Terms, lo: int, hi: int) -> RawSQL:
    """The ids from ``lo`` to ``hi`` of messages that contain every term (SQLite): FTS5 seeks
    to the range instead of reading every match."""
    return RawSQL(f"{_FTS5} AND rowid BETWEEN %s AND %s", [terms.fts5(), lo, hi])  # noqa: S611
