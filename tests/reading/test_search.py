"""What a person types becomes words to find, in each database's full-text syntax."""

from __future__ import annotations

import pytest
from django.db import connection

from mailroom.reading.search import MAX_LENGTH, SearchError, Terms, parse


def test_it_splits_words_and_keeps_quoted_phrases_together() -> None:
    terms = parse('Printer  "on fire" müller')
    assert terms == Terms((("printer",), ("on", "fire"), ("müller",)))
    assert terms is not None
    assert terms.fts5() == '"printer" AND "on fire" AND "müller"*'


def test_operators_and_quotes_become_plain_words() -> None:
    terms = parse('NEAR(a b) -c "d" OR e* f:g ^h {i}')
    assert terms is not None
    assert terms.phrases == (
        ("near", "a"),
        ("b",),
        ("c",),
        ("d",),
        ("or",),
        ("e",),
        ("f", "g"),
        ("h",),
        ("i",),
    )
    # Only the quoting and the final prefix mark are FTS5 syntax.
    assert terms.fts5().count('"') == 2 * len(terms.phrases)
    assert terms.fts5().endswith('"i"*')


def test_it_has_nothing_to_search_for_in_blank_text_or_punctuation() -> None:
    for text in ("", "   ", "***", '"" - ( )', "\x00"):
        assert parse(text) is None


def test_it_refuses_text_too_long_to_be_a_search() -> None:
    with pytest.raises(SearchError, match="at most 200 characters"):
        parse("a" * (MAX_LENGTH + 1))
    with pytest.raises(SearchError, match="at most 12 words"):
        parse(" ".join("w" * 3 for _ in range(13)))


def test_postgresql_gets_each_phrase_as_a_parameter() -> None:
    terms = parse('"on fire" print')
    assert terms is not None
    query, params = terms.postgres()
    assert query == (
        "phraseto_tsquery('simple'::regconfig, mailroom_unaccent(%s)) && "
        "to_tsquery('simple'::regconfig, mailroom_unaccent(%s))"
    )
    assert params == ["on fire", "'print':*"]


@pytest.mark.django_db
def test_the_search_index_is_kept_by_triggers_on_sqlite_or_a_gin_index_on_postgresql() -> None:
    """A later migration that rebuilds mailroom_message on SQLite drops the triggers with it:
    this test then fails, and that migration must call 0014's ``install_sqlite`` again."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name = 'mailroom_message' ORDER BY name"
            )
            assert [row[0] for row in cursor.fetchall()] == [
                "mailroom_message_search_delete",
                "mailroom_message_search_insert",
                "mailroom_message_search_update",
            ]
        else:
            cursor.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'mailroom_message' "
                "AND indexdef LIKE '%%USING gin%%to_tsvector%%mailroom_unaccent%%'"
            )
            assert [row[0] for row in cursor.fetchall()] == ["message_search_idx"]
        names = {"message_list_idx", "message_folder_list_idx", "message_conversation_list_idx"}
        indexes = connection.introspection.get_constraints(cursor, "mailroom_message")
        assert names <= set(indexes)
