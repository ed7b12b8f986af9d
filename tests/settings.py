"""Settings for the test suite: a throwaway data directory and the loopback test servers
allow-listed (they run on 127.0.0.1, which mailroom otherwise refuses)."""

import os
import tempfile

os.environ.setdefault("MAILROOM_DATA_DIR", tempfile.mkdtemp(prefix="mailroom-test-"))
os.environ["MAILROOM_ALLOWED_MAIL_HOSTS"] = "127.0.0.1"
os.environ.setdefault("MAILROOM_MAIL_TIMEOUT", "10")

from mailroom.settings import *  # noqa: F403
