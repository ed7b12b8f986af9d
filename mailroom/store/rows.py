"""Insert many rows with one prepared statement: the store's hot path.

``bulk_create`` compiles an expression for every value of every row, which cost more than
parsing the mail itself; this prepares each value with the field's own ``get_db_prep_save``
(the same conversion Django applies) and hands the rows to the driver's ``executemany``.
It works on SQLite and PostgreSQL alike. Primary keys are not returned: callers find the new
rows again by a unique key of their own.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, models
from django.db.models.constants import OnConflict


def insert_rows(
    objects: Sequence[models.Model], *, ignore_conflicts: bool = False, batch: int = 500
) -> None:
    """INSERT ``objects`` (all of one model), without their auto primary key."""
    if not objects:
        return
    meta = type(objects[0])._meta
    fields = [
        f
        for f in meta.concrete_fields
        if not (f.primary_key and isinstance(f, models.AutoField | models.BigAutoField))
    ]
    quote = connection.ops.quote_name
    on_conflict = OnConflict.IGNORE if ignore_conflicts else None
    head = connection.ops.insert_statement(on_conflict=on_conflict)
    columns = ", ".join(quote(f.column) for f in fields)
    values = ", ".join(["%s"] * len(fields))
    suffix = connection.ops.on_conflict_suffix_sql(fields, on_conflict, [], []) or ""
    sql = f"{head} {quote(meta.db_table)} ({columns}) VALUES ({values}) {suffix}"
    rows = [
        [f.get_db_prep_save(f.pre_save(obj, add=True), connection) for f in fields]
        for obj in objects
    ]
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch):
            cursor.executemany(sql, rows[start : start + batch])
