"""The message list's indexes and its full-text search, per database.

Both: the list is read newest first by (arrival, id), where arrival is the server's
INTERNALDATE, else when mailroom stored the message; one index per way the list is entered
(the mailbox, one folder, one conversation) lets every keyset page start with a seek.

SQLite (embedded): an FTS5 index of subject, sender (name and address) and body that keeps no
copy of the text (contentless: the text stays in mailroom_message), kept up to date by
triggers on mailroom_message, so the store writes mail as before. The body indexed is the
text part, or the HTML part when there is no text part, up to 100,000 characters.

PostgreSQL (scale-out): a GIN index over to_tsvector('simple', ...) of the same text.

These live outside Django's model state on purpose (expression indexes and triggers it does
not know). A later migration that makes Django rebuild mailroom_message on SQLite (a changed
column) drops the triggers with the old table: it must run ``install_sqlite`` again, which
tests/reading/test_search_index.py checks.
"""

from django.db import migrations

ARRIVAL = "COALESCE(internal_date, received_at)"
BODY = "substr(CASE WHEN {r}.text_body <> '' THEN {r}.text_body ELSE {r}.html_body END, 1, 100000)"

# Each index also holds what the conversation view asks of every row it passes (its
# conversation, mailbox and folder), so walking a page never reads the message rows themselves.
LIST_INDEXES = (
    "CREATE INDEX message_list_idx "
    f"ON mailroom_message (mailbox_id, {ARRIVAL}, id, conversation_id)",
    "CREATE INDEX message_folder_list_idx "
    f"ON mailroom_message (folder_id, {ARRIVAL}, id, conversation_id, mailbox_id)",
    "CREATE INDEX message_conversation_list_idx "
    f"ON mailroom_message (conversation_id, {ARRIVAL}, id, mailbox_id, folder_id)",
)
DROP_LIST_INDEXES = (
    "DROP INDEX IF EXISTS message_list_idx",
    "DROP INDEX IF EXISTS message_folder_list_idx",
    "DROP INDEX IF EXISTS message_conversation_list_idx",
)


def _values(row: str) -> str:
    return f"{row}.subject, {row}.from_name || ' ' || {row}.from_email, {BODY.format(r=row)}"


SQLITE = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS mailroom_message_search USING fts5("
    "subject, sender, body, content='', tokenize='unicode61 remove_diacritics 2')",
    "DROP TRIGGER IF EXISTS mailroom_message_search_insert",
    "DROP TRIGGER IF EXISTS mailroom_message_search_delete",
    "DROP TRIGGER IF EXISTS mailroom_message_search_update",
    "CREATE TRIGGER mailroom_message_search_insert AFTER INSERT ON mailroom_message BEGIN "
    "INSERT INTO mailroom_message_search(rowid, subject, sender, body) "
    f"VALUES (new.id, {_values('new')}); END",
    "CREATE TRIGGER mailroom_message_search_delete AFTER DELETE ON mailroom_message BEGIN "
    "INSERT INTO mailroom_message_search(mailroom_message_search, rowid, subject, sender, body) "
    f"VALUES ('delete', old.id, {_values('old')}); END",
    "CREATE TRIGGER mailroom_message_search_update AFTER UPDATE OF "
    "subject, from_name, from_email, text_body, html_body ON mailroom_message BEGIN "
    "INSERT INTO mailroom_message_search(mailroom_message_search, rowid, subject, sender, body) "
    f"VALUES ('delete', old.id, {_values('old')}); "
    "INSERT INTO mailroom_message_search(rowid, subject, sender, body) "
    f"VALUES (new.id, {_values('new')}); END",
)
SQLITE_FILL = (
    "DELETE FROM mailroom_message_search",
    "INSERT INTO mailroom_message_search(rowid, subject, sender, body) "
    f"SELECT m.id, {_values('m')} FROM mailroom_message AS m",
)
DROP_SQLITE = (
    "DROP TRIGGER IF EXISTS mailroom_message_search_insert",
    "DROP TRIGGER IF EXISTS mailroom_message_search_delete",
    "DROP TRIGGER IF EXISTS mailroom_message_search_update",
    "DROP TABLE IF EXISTS mailroom_message_search",
)

# The same expression must appear in queries for PostgreSQL to use the index
# (mailroom.reading.search.POSTGRES_DOCUMENT).
POSTGRES = (
    "CREATE INDEX message_search_idx ON mailroom_message USING gin (to_tsvector('simple'::regconfig, "
    "subject || ' ' || from_name || ' ' || translate(from_email, '@.-_+', '     ') || ' ' || "
    "left(CASE WHEN text_body <> '' THEN text_body ELSE html_body END, 100000)))",
)
DROP_POSTGRES = ("DROP INDEX IF EXISTS message_search_idx",)


def install_sqlite(schema_editor) -> None:
    """Create (or re-create) the FTS5 table and its triggers, and index every stored message."""
    for statement in (*SQLITE, *SQLITE_FILL):
        schema_editor.execute(statement)


def forwards(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    for statement in LIST_INDEXES:
        schema_editor.execute(statement)
    if vendor == "sqlite":
        install_sqlite(schema_editor)
    elif vendor == "postgresql":
        for statement in POSTGRES:
            schema_editor.execute(statement)


def backwards(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    for statement in DROP_LIST_INDEXES:
        schema_editor.execute(statement)
    if vendor == "sqlite":
        for statement in DROP_SQLITE:
            schema_editor.execute(statement)
    elif vendor == "postgresql":
        for statement in DROP_POSTGRES:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("mailroom", "0013_reading_and_replying")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
