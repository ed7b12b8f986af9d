"""Insert or update many rows with one prepared statement: the store's and pipeline's hot path.

``bulk_create`` builds a model instance per row (with its signals) and compiles an expression
for every value, which cost more than parsing the mail itself. Here rows are plain dicts of
column values (by attribute name, e.g. ``folder_id``); each value is converted with the field's
own ``get_db_prep_save``, the same conversion Django applies, and the rows go to the driver's
``executemany``. It works on SQLite and PostgreSQL alike. ``insert_rows`` returns no primary
keys (callers find the new rows again by a unique key of their own); ``insert_returning_ids``
does, at the cost of one statement per hundred rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, models
from django.db.models.constants import OnConflict
from django.utils import timezone


def _prepared(
    model: type[models.Model], rows: list[dict[str, Any]]
) -> tuple[list[models.Field[Any, Any]], list[list[Any]]]:
    """The columns to insert (all but an automatic key) and each row's values, prepared for the
    driver; columns left out of a row get the field's default."""
    fields = [
        f
        for f in model._meta.concrete_fields
        if not (f.primary_key and isinstance(f, models.AutoField | models.BigAutoField))
    ]
    now = timezone.now()
    defaults: dict[str, Any] = {}
    for f in fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            defaults[f.attname] = now
        elif f.has_default() or f.null:
            defaults[f.attname] = f.get_default()
    prepared = [
        [
            f.get_db_prep_save(
                row[f.attname] if f.attname in row else defaults.get(f.attname, ""), connection
            )
            for f in fields
        ]
        for row in rows
    ]
    return fields, prepared


def insert_rows(
    model: type[models.Model],
    rows: list[dict[str, Any]],
    *,
    ignore_conflicts: bool = False,
    batch: int = 500,
) -> None:
    """INSERT ``rows`` into ``model``'s table; columns left out get the field's default."""
    if not rows:
        return
    fields, prepared = _prepared(model, rows)
    quote = connection.ops.quote_name
    on_conflict = OnConflict.IGNORE if ignore_conflicts else None
    head = connection.ops.insert_statement(on_conflict=on_conflict)
    columns = ", ".join(quote(f.column) for f in fields)
    values = ", ".join(["%s"] * len(fields))
    suffix = connection.ops.on_conflict_suffix_sql(fields, on_conflict, [], []) or ""
    sql = f"{head} {quote(model._meta.db_table)} ({columns}) VALUES ({values}) {suffix}"
    with connection.cursor() as cursor:
        for start in range(0, len(prepared), batch):
            cursor.executemany(sql, prepared[start : start + batch])


def insert_returning_ids(
    model: type[models.Model], rows: list[dict[str, Any]], *, batch: int = 100
) -> list[int]:
    """INSERT ``rows`` and return their new primary keys, in the order of ``rows``: one
    multi-row ``INSERT … RETURNING`` per ``batch`` rows (SQLite 3.35+ and PostgreSQL return
    the rows of a multi-row VALUES in its order, as Django's own ``bulk_create`` relies on)."""
    if not rows:
        return []
    fields, prepared = _prepared(model, rows)
    quote = connection.ops.quote_name
    meta = model._meta
    columns = ", ".join(quote(f.column) for f in fields)
    row_marks = "(" + ", ".join(["%s"] * len(fields)) + ")"
    ids: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(prepared), batch):
            chunk = prepared[start : start + batch]
            sql = (
                f"INSERT INTO {quote(meta.db_table)} ({columns}) "  # noqa: S608
                f"VALUES {', '.join([row_marks] * len(chunk))} RETURNING {quote(meta.pk.column)}"
            )
            cursor.execute(sql, [value for row in chunk for value in row])
            ids.extend(int(row[0]) for row in cursor.fetchall())
    return ids


def update_rows(objects: Sequence[models.Model], fields: Sequence[str]) -> None:
    """UPDATE ``fields`` of ``objects`` (all of one model) by primary key, in one prepared
    statement run for every row (``bulk_update`` builds a CASE expression per field and row,
    which cost more than the work that changed them)."""
    if not objects:
        return
    meta = type(objects[0])._meta
    columns = [f for f in meta.concrete_fields if f.name in fields]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in columns)
    key = quote(meta.pk.column)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {key} = %s"  # noqa: S608
    rows = [
        [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in columns] + [obj.pk]
        for obj in objects
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


# The first key of mailroom's PostgreSQL advisory locks ("mr"), the second being a row's id.
_ADVISORY_SPACE = 0x6D72


def serialize_storing(mailbox_id: int) -> None:
    """Let one transaction at a time store mail into this mailbox, until it ends.

    Storing decides "is this mail new, or a copy of one stored already?" by reading what is
    stored; two transactions storing the same bytes from two folders at once must not both see
    nothing and both insert. SQLite runs one writer at a time anyway; PostgreSQL takes a
    transaction-scoped advisory lock per mailbox here (other mailboxes are not held up).
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_ADVISORY_SPACE, mailbox_id])
