"""Which shape this process runs in, and the settings that follow from it.

Embedded (the default): one SQLite file in the data directory, tasks run in-process. Scale-out:
``DATABASE_URL`` names a PostgreSQL database and ``CELERY_BROKER_URL`` a Redis broker; the
secrets every machine must share then come from the environment, never from a file that only
one machine has. See docs/deploy.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from mailroom import conf

POSTGRES_SCHEMES = {"postgres", "postgresql", "pgsql"}


def sqlite_database(path: Path) -> dict[str, Any]:
    """The embedded database: one SQLite file shared by the web server, watchers and workers."""
    return {
        "ENGINE": "mailroom.db.sqlite3",
        "NAME": path,
        # Wait for a lock rather than fail at once; WAL (set once per process by the backend)
        # lets readers run while one writer commits.
        "OPTIONS": {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA synchronous=NORMAL;",
        },
        # The workers and the web server keep their connection; IDLE watchers, a thousand of
        # them, close theirs after each sync (mailroom.watch.idle).
        "CONN_MAX_AGE": None,
    }


def postgres_database(url: str) -> dict[str, Any]:
    """Django's settings for ``postgres://user:password@host:port/name?option=value``."""
    parts = urlsplit(url)
    if parts.scheme not in POSTGRES_SCHEMES:
        raise conf.ConfigError(
            f"DATABASE_URL must start with postgres:// (got {parts.scheme or 'no'} scheme)"
        )
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise conf.ConfigError("DATABASE_URL must name a database: postgres://host/name")
    try:
        port = parts.port
    except ValueError:
        raise conf.ConfigError("DATABASE_URL has a port that is not a number") from None
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(port or ""),
        # sslmode, connect_timeout, … pass through to libpq as given.
        "OPTIONS": dict(parse_qsl(parts.query)),
        # Keep connections, but check one that sat idle before trusting it: a restarted
        # PostgreSQL then costs one reconnect, not a failed task.
        "CONN_MAX_AGE": 300,
        "CONN_HEALTH_CHECKS": True,
    }


def database() -> dict[str, Any]:
    """The default database of this process's shape."""
    if conf.DATABASE_URL:
        return postgres_database(conf.DATABASE_URL)
    if conf.CELERY_BROKER_URL:
        raise conf.ConfigError(
            "CELERY_BROKER_URL needs DATABASE_URL too: workers on other machines cannot "
            "share the embedded SQLite file"
        )
    return sqlite_database(conf.DATA_DIR / "mailroom.sqlite3")


def require_shared_secrets() -> None:
    """Refuse to start a scale-out process without the secrets all its machines share."""
    if conf.is_shared():
        for name in ("MAILROOM_SECRET_KEY", "MAILROOM_CREDENTIAL_KEYS"):
            conf.shared_secret(name)


def secret_key(data_dir: Path) -> str:
    """Django's signing key: ``MAILROOM_SECRET_KEY`` in the scale-out shape (required), else
    generated once into the data directory."""
    if conf.is_shared():
        return conf.shared_secret("MAILROOM_SECRET_KEY")
    path = data_dir / "django-secret.key"
    if not path.exists():
        import secrets

        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()
