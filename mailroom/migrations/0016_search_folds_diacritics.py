"""Search in the scale-out shape folds diacritics, as the embedded shape's FTS5 does
(``remove_diacritics``): "Muller" finds "Müller", "cafe" finds "café".

PostgreSQL folds with the ``unaccent`` extension (contrib, a trusted extension: the database's
owner may create it). ``unaccent()`` is not IMMUTABLE, as an index expression must be, so a
wrapper naming its dictionary is: ``mailroom_unaccent``. The GIN index of 0014 is rebuilt over
the folded document (mailroom.reading.search.POSTGRES_DOCUMENT, the same expression), and
queries fold what was typed with the same function. SQLite is unchanged.
"""

from django.db import migrations

DOCUMENT = (
    "to_tsvector('simple'::regconfig, mailroom_unaccent("
    "subject || ' ' || from_name || ' ' || translate(from_email, '@.-_+', '     ') || ' ' || "
    "left(CASE WHEN text_body <> '' THEN text_body ELSE html_body END, 100000)))"
)
OLD_DOCUMENT = (
    "to_tsvector('simple'::regconfig, "
    "subject || ' ' || from_name || ' ' || translate(from_email, '@.-_+', '     ') || ' ' || "
    "left(CASE WHEN text_body <> '' THEN text_body ELSE html_body END, 100000))"
)


def _unaccent_schema(schema_editor) -> str:
    """Create the extension if it is not there; the schema it lives in."""
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
            "WHERE e.extname = 'unaccent'"
        )
        return cursor.fetchone()[0]


def forwards(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema = schema_editor.connection.ops.quote_name(_unaccent_schema(schema_editor))
    schema_editor.execute(
        "CREATE OR REPLACE FUNCTION mailroom_unaccent(text) RETURNS text "
        "LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS "
        f"$$ SELECT {schema}.unaccent('{schema}.unaccent'::regdictionary, $1) $$"
    )
    schema_editor.execute("DROP INDEX IF EXISTS message_search_idx")
    schema_editor.execute(
        f"CREATE INDEX message_search_idx ON mailroom_message USING gin ({DOCUMENT})"
    )


def backwards(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS message_search_idx")
    schema_editor.execute(
        f"CREATE INDEX message_search_idx ON mailroom_message USING gin ({OLD_DOCUMENT})"
    )
    schema_editor.execute("DROP FUNCTION IF EXISTS mailroom_unaccent(text)")


class Migration(migrations.Migration):
    dependencies = [("mailroom", "0015_outbox_state_index")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
