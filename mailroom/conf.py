"""Site settings read from the environment: every ``MAILROOM_*`` knob, typed, with its default.

This is the one place that reads the environment. Each reader fails fast with a message naming
the variable, so a typo in a deployment is found at start-up rather than at the first email.
"""

from __future__ import annotations

import os
from pathlib import Path


class ConfigError(Exception):
    """A ``MAILROOM_*`` variable holds a value mailroom cannot use."""


def env_str(name: str, default: str) -> str:
    """Return the variable's value, or ``default`` when it is unset or empty."""
    return os.environ.get(name) or default


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    """Return the variable as an integer not below ``minimum``."""
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def env_bool(name: str, default: bool) -> bool:
    """Return the variable as a boolean (1/0, true/false, yes/no, on/off)."""
    raw = os.environ.get(name)
    if not raw:
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def env_list(name: str) -> list[str]:
    """Return the variable as a comma-separated list with blanks dropped."""
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


# Where the SQLite database, the encryption key and the raw messages live.
DATA_DIR = Path(env_str("MAILROOM_DATA_DIR", "./var")).resolve()

# Address and port the web UI listens on.
BIND = env_str("MAILROOM_BIND", "127.0.0.1:8000")

# Mail server hosts that "check connection" and sync may reach even though they are loopback or
# private addresses (comma-separated host names or IP addresses). Empty by default: mailroom
# refuses internal addresses so that the mailbox form cannot probe the internal network.
ALLOWED_MAIL_HOSTS = env_list("MAILROOM_ALLOWED_MAIL_HOSTS")


def env_ports(name: str) -> list[int]:
    """Return the variable as a comma-separated list of TCP ports."""
    ports = []
    for item in env_list(name):
        if not item.isdigit() or not 0 < int(item) < 65536:
            raise ConfigError(f"{name} must list ports from 1 to 65535, got {item!r}")
        ports.append(int(item))
    return ports


# Extra ports beyond the standard mail ports (143, 993, 25, 465, 587) a mailbox may use.
ALLOWED_MAIL_PORTS = env_ports("MAILROOM_ALLOWED_MAIL_PORTS")

# Seconds between two polls of a mailbox by the embedded watcher.
POLL_SECONDS = env_int("MAILROOM_POLL_SECONDS", 60, minimum=1)

# Socket timeout for IMAP and SMTP connections, in seconds.
MAIL_TIMEOUT = env_int("MAILROOM_MAIL_TIMEOUT", 30, minimum=1)

# Messages larger than this are not downloaded (bytes); a placeholder is kept instead.
MAX_MESSAGE_BYTES = env_int("MAILROOM_MAX_MESSAGE_BYTES", 25 * 1024 * 1024, minimum=1024)

# How many messages one UID FETCH asks for (and one transaction stores).
FETCH_BATCH = env_int("MAILROOM_FETCH_BATCH", 500, minimum=1)

# Seconds a sync, send or watch lease lasts unless its holder renews it: how long a killed
# process keeps others from taking over its work.
LEASE_SECONDS = env_int("MAILROOM_LEASE_SECONDS", 60, minimum=5)

# Transient failures (server down, timeouts, "too many connections") are retried with
# exponential backoff and jitter up to this many seconds; an alert is raised once they have
# lasted MAILROOM_DEGRADED_ALERT_MINUTES, and once more when the mailbox recovers.
RETRY_CAP_SECONDS = env_int("MAILROOM_RETRY_CAP_SECONDS", 1800, minimum=1)
DEGRADED_ALERT_MINUTES = env_int("MAILROOM_DEGRADED_ALERT_MINUTES", 30, minimum=0)

# The longest one sync task may run before it stops (it resumes from its cursor next time).
SYNC_TASK_SECONDS = env_int("MAILROOM_SYNC_TASK_SECONDS", 3600, minimum=10)

# Domain of the Message-IDs mailroom generates for its own mail.
MESSAGE_ID_DOMAIN = env_str("MAILROOM_MESSAGE_ID_DOMAIN", "mailroom.invalid")

# The languages responses are written in: the editors show a tab for each (more can be added
# per response). The first is the default language of a new response.
LANGUAGES = [tag.strip().lower() for tag in env_str("MAILROOM_LANGUAGES", "en").split(",")]

# The address people open mailroom at (https://mailroom.example.com): answers link the Case or
# Lead they created with it ({{ record_url }}). Unset, that placeholder is empty.
BASE_URL = env_str("MAILROOM_BASE_URL", "").rstrip("/")

# First administrator, created by ``mailroom run`` when there is none.
ADMIN_EMAIL = env_str("MAILROOM_ADMIN_EMAIL", "admin@example.com")
ADMIN_PASSWORD = os.environ.get("MAILROOM_ADMIN_PASSWORD", "")

# --- Sign-in (docs/deploy.md) --------------------------------------------------------------------
# After this many failed logins in a row, an account is locked, and so is the address they came
# from (each counted on its own), for MAILROOM_LOGIN_LOCKOUT_MINUTES. A successful login clears
# the failures against that account only.
LOGIN_FAILURE_LIMIT = env_int("MAILROOM_LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_LOCKOUT_MINUTES = env_int("MAILROOM_LOGIN_LOCKOUT_MINUTES", 15, minimum=1)

# "Check connection" logs in to a server someone names: at most this many checks per person
# in any 60 seconds, so that it cannot serve to guess passwords or scan a network (S19).
CHECKS_PER_MINUTE = env_int("MAILROOM_CHECKS_PER_MINUTE", 10, minimum=1)

# A session ends this many hours after login, and when the browser closes if
# MAILROOM_SESSION_BROWSER_CLOSE is on.
SESSION_HOURS = env_int("MAILROOM_SESSION_HOURS", 12, minimum=1)
SESSION_BROWSER_CLOSE = env_bool("MAILROOM_SESSION_BROWSER_CLOSE", False)

# Served over HTTPS (behind a reverse proxy that terminates TLS and sets X-Forwarded-Proto):
# cookies are sent over HTTPS only and browsers are told to keep to HTTPS (HSTS) for
# MAILROOM_HSTS_SECONDS (0: no HSTS header).
HTTPS = env_bool("MAILROOM_HTTPS", False)
HSTS_SECONDS = env_int("MAILROOM_HSTS_SECONDS", 86400, minimum=0)

# How many reverse proxies stand in front of the web server and append to X-Forwarded-For: the
# client's address (for the per-address login limit) is that many entries from the right. 0:
# the address the connection comes from.
PROXY_COUNT = env_int("MAILROOM_PROXY_COUNT", 0, minimum=0)

# Development switch: Django's debug pages. Never in production.
DEBUG = env_bool("MAILROOM_DEBUG", False)

# Loop safety of the autoresponder (docs/autoresponse.md).
# Mail older than this is never answered automatically, by the server's arrival time and by its
# Date header alike: a first sync of an old folder, a backlog after an outage or a message
# written days ago must not get a stale reply. The Date, from the sender's clock, gets
# MAILROOM_AUTORESPONSE_CLOCK_SKEW_MINUTES of slack.
AUTORESPONSE_MAX_AGE_HOURS = env_int("MAILROOM_AUTORESPONSE_MAX_AGE_HOURS", 24, minimum=1)
AUTORESPONSE_CLOCK_SKEW_MINUTES = env_int(
    "MAILROOM_AUTORESPONSE_CLOCK_SKEW_MINUTES", 120, minimum=0
)

# One answer per sender and rule in this many days (RFC 3834 section 2 recommends 7).
AUTORESPONSE_WINDOW_DAYS = env_int("MAILROOM_AUTORESPONSE_WINDOW_DAYS", 7, minimum=1)

# At most this many answers per mailbox in any 60 minutes; beyond it mail is not answered and
# one administrator alert is raised (forged senders must not turn us into a mailbomb).
AUTORESPONSE_MAX_PER_HOUR = env_int("MAILROOM_AUTORESPONSE_MAX_PER_HOUR", 100, minimum=1)

# At most this many answers of all mailboxes together in any 60 minutes (row A28): a flood
# with forged senders spread over many mailboxes stays bounded by one figure for the site.
AUTORESPONSE_MAX_PER_HOUR_ALL = env_int("MAILROOM_AUTORESPONSE_MAX_PER_HOUR_ALL", 1000, minimum=1)

# An address an answer bounced from (a delivery report quoting it came back) is not answered
# again for this many days.
AUTORESPONSE_BOUNCE_BLOCK_DAYS = env_int("MAILROOM_AUTORESPONSE_BOUNCE_BLOCK_DAYS", 60, minimum=1)

# Answer the From address of mail that has no Return-Path header at all, under the conditions
# of docs/autoresponse.md. Off by default: without a Return-Path nothing is answered. Turn it on
# only for a server that hides the Return-Path (RFC 3834 section 4 allows it to a service).
AUTORESPONSE_FROM_FALLBACK = env_bool("MAILROOM_AUTORESPONSE_FROM_FALLBACK", False)

# --- The scale-out shape (docs/deploy.md) -------------------------------------------------------
# PostgreSQL instead of the SQLite file: postgres://user:password@host:port/name[?sslmode=…].
DATABASE_URL = os.environ.get("DATABASE_URL", "")

# A Redis broker for Celery: redis://host:port/db. Set, the web server and the watchers hand
# tasks to `mailroom worker` processes instead of running them in-process.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")

# Seconds between two sweeps sent by `mailroom beat` (the embedded shape sweeps every 2 s).
SWEEP_SECONDS = env_int("MAILROOM_SWEEP_SECONDS", 5, minimum=1)

# How many mailboxes one `mailroom watch` process holds at most.
WATCH_CAPACITY = env_int("MAILROOM_WATCH_CAPACITY", 1000, minimum=1)

# A Celery task gets MAILROOM_SYNC_TASK_SECONDS plus this much before its soft time limit, as
# much again before it is killed, and as much again before the broker hands it to another
# worker (the visibility timeout): a task is never redelivered while it may still be running.
TASK_GRACE_SECONDS = env_int("MAILROOM_TASK_GRACE_SECONDS", 60, minimum=1)

# Set, ``/metrics`` answers only requests with ``Authorization: Bearer <this token>``.
METRICS_TOKEN = os.environ.get("MAILROOM_METRICS_TOKEN", "")


def shared_secret(name: str) -> str:
    """A secret every machine of a scale-out deployment must share, from the environment."""
    value = os.environ.get(name, "")
    if not value:
        raise ConfigError(
            f"{name} must be set when DATABASE_URL or CELERY_BROKER_URL is: every machine "
            "of a scale-out deployment needs the same value (docs/deploy.md)"
        )
    return value


def is_shared() -> bool:
    """True when several processes or machines share the data (PostgreSQL or a broker)."""
    return bool(DATABASE_URL or CELERY_BROKER_URL)
