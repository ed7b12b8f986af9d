"""Transport settings built from a mailbox's stored connection and the site's allow-lists."""

from __future__ import annotations

from mailroom import conf
from mailroom.models import MailboxConnection
from mailroom.transport.imap import ImapSettings
from mailroom.transport.smtp import SmtpSettings


def imap_settings(connection: MailboxConnection, *, password: str | None = None) -> ImapSettings:
    """IMAP settings of ``connection``; ``password`` overrides the stored one (unsaved forms)."""
    return ImapSettings(
        host=connection.imap_host,
        port=connection.imap_port,
        encryption=connection.imap_encryption,
        username=connection.username,
        password=connection.password if password is None else password,
        timeout=float(conf.MAIL_TIMEOUT),
        max_literal=conf.MAX_MESSAGE_BYTES + 65536,
        allowed_hosts=tuple(conf.ALLOWED_MAIL_HOSTS),
        allowed_ports=tuple(conf.ALLOWED_MAIL_PORTS),
    )


def smtp_settings(connection: MailboxConnection, *, password: str | None = None) -> SmtpSettings:
    """SMTP settings of ``connection``; ``password`` overrides the stored one (unsaved forms)."""
    return SmtpSettings(
        host=connection.smtp_host,
        port=connection.smtp_port,
        encryption=connection.smtp_encryption,
        username=connection.username,
        password=connection.password if password is None else password,
        timeout=float(conf.MAIL_TIMEOUT),
        allowed_hosts=tuple(conf.ALLOWED_MAIL_HOSTS),
        allowed_ports=tuple(conf.ALLOWED_MAIL_PORTS),
    )
