"""Settings for the test suite: a throwaway data directory and the loopback test servers
allow-listed (they run on 127.0.0.1, which mailroom otherwise refuses).

``MAILROOM_TEST_DATABASE_URL`` (a PostgreSQL URL) runs the suite in the scale-out shape's
database instead of SQLite; pytest-django creates and drops ``test_<name>`` on that server.
"""

import os
import tempfile

os.environ.setdefault("MAILROOM_DATA_DIR", tempfile.mkdtemp(prefix="mailroom-test-"))
os.environ["MAILROOM_ALLOWED_MAIL_HOSTS"] = "127.0.0.1"
os.environ.setdefault("MAILROOM_MAIL_TIMEOUT", "10")
if os.environ.get("MAILROOM_TEST_DATABASE_URL"):
    os.environ["DATABASE_URL"] = os.environ["MAILROOM_TEST_DATABASE_URL"]
    # The scale-out shape takes its shared secrets from the environment (fixed test values).
    os.environ.setdefault("MAILROOM_SECRET_KEY", "test-secret-key-not-for-production")
    os.environ.setdefault(
        "MAILROOM_CREDENTIAL_KEYS", "rG9wM2x3c0Q0bEx6a1N4dW5oZ1lWbk5sT3Q0cXFJbWg="
    )

from mailroom.settings import *  # noqa: F403
