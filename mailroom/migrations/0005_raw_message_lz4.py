"""Compress raw message bytes with lz4 instead of pglz on PostgreSQL.

pglz cost PostgreSQL about as much CPU as parsing the mail (bench/README.md, scale-out import):
lz4 keeps the bytes compressed on disk at a fraction of the cost. PostgreSQL 14 or newer built
with lz4 only; elsewhere (SQLite, an older or differently built server) nothing changes.
"""

from django.db import migrations


def use_lz4(apps, schema_editor):  # type: ignore[no-untyped-def]
    connection = schema_editor.connection
    if connection.vendor != "postgresql" or connection.pg_version < 140000:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression'"
            " AND 'lz4' = ANY(enumvals)"
        )
        if cursor.fetchone() is None:
            return  # this server was built without lz4
        cursor.execute("ALTER TABLE mailroom_rawmessage ALTER COLUMN data SET COMPRESSION lz4")


def use_default(apps, schema_editor):  # type: ignore[no-untyped-def]
    connection = schema_editor.connection
    if connection.vendor == "postgresql" and connection.pg_version >= 140000:
        with connection.cursor() as cursor:
            cursor.execute(
                "ALTER TABLE mailroom_rawmessage ALTER COLUMN data SET COMPRESSION DEFAULT"
            )


class Migration(migrations.Migration):
    dependencies = [("mailroom", "0004_watch_process")]

    operations = [migrations.RunPython(use_lz4, use_default)]
