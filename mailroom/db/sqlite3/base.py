"""Django's SQLite backend, with the writers of one process taking turns on a lock in memory.

SQLite allows one writer at a time. A connection that finds the database locked waits in
SQLite's busy handler, which sleeps 1, 2, 5 … up to 100 ms between looks, so under load many
threads (watchers storing pushed mail, the processing and sending workers, the web server)
sleep while the database is free. Here every write transaction (``BEGIN IMMEDIATE`` to
``COMMIT``/``ROLLBACK``) and every write statement outside one holds a re-entrant lock of the
process: a waiting writer wakes the moment the last one finishes. SQLite's own locking still
guards against other processes. Reads never take the lock (WAL mode lets them run alongside).
"""

from __future__ import annotations

import threading
from typing import Any

from django.db import OperationalError
from django.db.backends.sqlite3 import base

_writer = threading.RLock()
_wal_set: set[str] = set()

_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")


def _acquire(timeout: float) -> None:
    if not _writer.acquire(timeout=timeout):
        raise OperationalError("database is locked (another writer of this process held it)")


def _is_write(sql: str) -> bool:
    return sql.lstrip()[:7].upper().startswith(_WRITES)


class _Cursor(base.SQLiteCursorWrapper):
    """Takes the writer lock around a write statement run outside a transaction."""

    wrapper: DatabaseWrapper

    def execute(self, query: str, params: Any = None) -> Any:
        if self.wrapper.holds_writer or not _is_write(query):
            return super().execute(query, params)
        _acquire(self.wrapper.lock_timeout)
        try:
            return super().execute(query, params)
        finally:
            _writer.release()

    def executemany(self, query: str, param_list: Any) -> Any:
        if self.wrapper.holds_writer:
            return super().executemany(query, param_list)
        _acquire(self.wrapper.lock_timeout)
        try:
            return super().executemany(query, param_list)
        finally:
            _writer.release()


class DatabaseWrapper(base.DatabaseWrapper):
    """SQLite, one writer of this process at a time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.holds_writer = False
        self.lock_timeout = float(self.settings_dict.get("OPTIONS", {}).get("timeout", 30))

    def get_new_connection(self, conn_params: Any) -> Any:
        connection = super().get_new_connection(conn_params)
        name = str(self.settings_dict["NAME"])
        if name not in _wal_set:
            # WAL lets readers run beside the writer. The mode is kept in the database file, so
            # it is set once per process, not on every one of many short-lived connections.
            connection.execute("PRAGMA journal_mode=WAL")
            _wal_set.add(name)
        return connection

    def create_cursor(self, name: str | None = None) -> Any:
        cursor = self.connection.cursor(factory=_Cursor)
        cursor.wrapper = self
        return cursor

    def _start_transaction_under_autocommit(self) -> None:
        _acquire(self.lock_timeout)
        self.holds_writer = True
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]  # private in the stubs
        except BaseException:
            self._release_writer()
            raise

    def _release_writer(self) -> None:
        if self.holds_writer:
            self.holds_writer = False
            _writer.release()

    def _commit(self) -> Any:
        try:
            return super()._commit()  # type: ignore[misc]  # private in the stubs
        finally:
            self._release_writer()

    def _rollback(self) -> Any:
        try:
            return super()._rollback()  # type: ignore[misc]  # private in the stubs
        finally:
            self._release_writer()

    def _close(self) -> Any:
        try:
            return super()._close()  # type: ignore[misc]  # private in the stubs
        finally:
            self._release_writer()
