"""Submit a reply a person wrote to the mailbox's SMTP server: one transaction to all its
recipients, with the mailbox as the envelope sender.

An autoresponse goes to one address with the null reverse path and ``NOTIFY=NEVER``
(:func:`mailroom.transport.smtp.send_message`); a person's reply goes to every To and Cc
address at once (so it is delivered to all of them or, retried, to all of them again, never to
some twice) and asks for the server's usual delivery reports, which come back to the mailbox.
It shares the connection, login and error handling of ``mailroom.transport.smtp``; it belongs
there as a second entry point and lives here only while that module has another owner.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable

from mailroom.transport.errors import SendAmbiguous, SendRefused, connect_failed
from mailroom.transport.smtp import SmtpSettings, _disconnected, _open, _reply_text


def send_to_all(
    settings: SmtpSettings,
    *,
    mail_from: str,
    rcpts: list[str],
    raw: bytes,
    on_data: Callable[[], None] | None = None,
) -> None:
    """Send ``raw`` to every address of ``rcpts`` in one SMTP transaction.

    Outcomes as :func:`mailroom.transport.smtp.send_message`: :class:`SendRefused` when the
    server refuses the sender, any recipient (nothing is sent then: a reply that reaches only
    some of its recipients is not what its author wrote) or the message;
    :class:`SendAmbiguous` when the connection breaks after DATA was sent; ``on_data`` is
    called just before DATA.
    """
    if not rcpts:
        raise SendRefused("the reply has no recipient", code=554)
    smtp = _open(settings)
    try:
        try:
            code, reply = smtp.mail(mail_from)
            if code != 250:
                raise SendRefused(f"sender refused: {code} {_reply_text(reply)}", code=code)
            for rcpt in rcpts:
                code, reply = smtp.rcpt(rcpt)
                if code not in (250, 251):
                    raise SendRefused(
                        f"recipient {rcpt} refused: {code} {_reply_text(reply)}", code=code
                    )
        except smtplib.SMTPServerDisconnected as exc:
            raise _disconnected(exc, "sending the envelope") from None
        except OSError as exc:
            raise connect_failed(exc, "sending the envelope") from None
        if on_data is not None:
            on_data()
        try:
            code, reply = smtp.data(raw)
        except smtplib.SMTPDataError as exc:
            raise SendRefused(
                f"message refused: {exc.smtp_code} {_reply_text(exc.smtp_error)}",
                code=exc.smtp_code,
            ) from None
        except OSError:
            raise SendAmbiguous(
                "the connection broke after the message was sent and before the server "
                "confirmed it; it may have been delivered, so it is not sent again"
            ) from None
        if code != 250:
            raise SendRefused(f"message refused: {code} {_reply_text(reply)}", code=code)
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()
