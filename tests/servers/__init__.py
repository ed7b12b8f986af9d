"""Real IMAP (Dovecot) and SMTP (aiosmtpd) servers on loopback for tests.

The pytest fixtures live in `tests.servers.fixtures`; import them into a
conftest with ``from tests.servers.fixtures import *``.
"""
