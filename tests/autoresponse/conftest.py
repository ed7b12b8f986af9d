"""Fixtures of the autoresponse tests."""

from __future__ import annotations

import pytest

from tests.autoresponse.helpers import Rig, add_mailbox, add_rule
from tests.servers.fixtures import ImapAccount
from tests.servers.smtp import SmtpSink


@pytest.fixture
def rig(db: None, imap_account: ImapAccount, smtp_server: SmtpSink) -> Rig:
    """support@example.test on the test Dovecot account, one rule answering everything."""
    mailbox = add_mailbox("Support", "support@example.test", imap_account, smtp_server)
    return Rig(imap_account, smtp_server, mailbox, add_rule(mailbox))
