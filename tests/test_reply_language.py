"""The answer's language end to end: the sender's mail in, the reply in their language out."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from mailroom.mime.compose import compose_reply
from mailroom.models import (
    AutoResponseRule,
    Contact,
    EmailTemplate,
    EmailTemplateTranslation,
    Mailbox,
    OutboxMessage,
    ProcessingRecord,
    ProcessingState,
    TemplateType,
)
from mailroom.pipeline.engine import process_message
from mailroom.rendering.language import choose_language
from tests.pipeline.helpers import mailbox, stored
from tests.rendering.texts import PARAGRAPHS

pytestmark = pytest.mark.django_db


def _mail(*headers: bytes, body: str = "It does not print.", sender: bytes = b"alice") -> bytes:
    return (
        b"Return-Path: <" + sender + b"@customer.test>\r\n"
        b"From: Alice Martin <" + sender + b"@customer.test>\r\n"
        b"To: support@example.test\r\n"
        b"Subject: Broken printer\r\n"
        b"Message-ID: <"
        + sender
        + b"-1@customer.test>\r\n"
        + b"".join(header + b"\r\n" for header in headers)
        + b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n"
        b"\r\n" + body.encode() + b"\r\n"
    )


def _acknowledging(*, is_html: bool = False) -> Mailbox:
    """A mailbox whose rule answers everything with an English and a German text."""
    box = mailbox("case")
    template = EmailTemplate.objects.create(
        name=f"ack-{box.pk}",
        type=TemplateType.HTML if is_html else TemplateType.TEXT,
        default_language="en",
    )
    EmailTemplateTranslation.objects.create(
        template=template,
        language="en",
        subject="We received: {{ subject }}",
        body="<p>Thank you, we will answer soon.</p>" if is_html else "Thank you.",
    )
    EmailTemplateTranslation.objects.create(
        template=template,
        language="de",
        subject="Eingegangen: {{ subject }}",
        body="<p>Vielen Dank, wir antworten bald.</p>" if is_html else "Vielen Dank.",
    )
    AutoResponseRule.objects.create(mailbox=box, name="Acknowledge", template=template)
    return box


def _reply_to(box: Mailbox, raw: bytes) -> tuple[OutboxMessage, EmailMessage, str]:
    """Process the stored mail; return the outbox row, its parsed bytes and the step's note."""
    message = stored(box, raw)
    assert process_message(message.pk) == ProcessingState.DONE
    row = OutboxMessage.objects.get(in_reply_to=message)
    reply = message_from_bytes(bytes(row.raw), policy=policy.default)
    assert isinstance(reply, EmailMessage)
    detail = ProcessingRecord.objects.get(message=message).steps[-1]["detail"]
    return row, reply, str(detail)


def _text(reply: EmailMessage) -> str:
    part = reply.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def test_a_german_sender_gets_the_german_answer() -> None:
    box = _acknowledging()

    row, reply, detail = _reply_to(box, _mail(b"Content-Language: de"))

    assert row.subject == "Eingegangen: Broken printer"
    assert _text(reply).strip() == "Vielen Dank."
    assert reply.get_all("Content-Language") == ["de"]
    assert detail == (
        "Acknowledge: reply queued to alice@customer.test in de (Content-Language: de)"
    )


def test_an_austrian_sender_gets_the_german_answer() -> None:
    row, reply, detail = _reply_to(_acknowledging(), _mail(b"Content-Language: de-AT"))

    assert row.subject == "Eingegangen: Broken printer"
    assert reply["Content-Language"] == "de"
    assert detail.endswith("in de (Content-Language: de-AT)")


def test_accept_language_is_followed_when_nothing_else_is_declared() -> None:
    raw = _mail(b"Accept-Language: fr;q=0.9, de-DE;q=0.8, en;q=0.1")

    row, reply, detail = _reply_to(_acknowledging(), raw)

    assert row.subject == "Eingegangen: Broken printer"
    assert reply["Content-Language"] == "de"
    assert detail.endswith("in de (Accept-Language: de-DE)")


def test_a_sender_who_declares_nothing_is_answered_in_the_language_they_wrote() -> None:
    raw = _mail(body=PARAGRAPHS["de"])

    row, reply, detail = _reply_to(_acknowledging(), raw)

    assert row.subject == "Eingegangen: Broken printer"
    assert reply["Content-Language"] == "de"
    assert "in de (detected from the text (de, " in detail


def test_the_language_of_an_html_only_message_is_detected_too() -> None:
    markup = "<html><body>" + "".join(f"<p>{line}</p>" for line in PARAGRAPHS["de"].splitlines())
    raw = _mail(body=markup + "</body></html>").replace(b"text/plain", b"text/html")

    row, _, detail = _reply_to(_acknowledging(), raw)

    assert row.subject == "Eingegangen: Broken printer"
    assert "detected from the text (de, " in detail


def test_a_language_the_template_lacks_gets_the_template_default() -> None:
    row, reply, detail = _reply_to(_acknowledging(), _mail(body=PARAGRAPHS["fr"]))

    assert row.subject == "We received: Broken printer"
    assert _text(reply).strip() == "Thank you."
    assert reply["Content-Language"] == "en"
    assert detail.endswith("in en (template default)")


def test_short_text_gets_the_template_default() -> None:
    _, reply, detail = _reply_to(_acknowledging(), _mail(body="Danke!"))

    assert reply["Content-Language"] == "en"
    assert detail.endswith("in en (template default)")


def test_the_contacts_language_is_remembered_for_their_next_mail() -> None:
    box = _acknowledging()
    _reply_to(box, _mail(b"Content-Language: de"))
    assert Contact.objects.get(email="alice@customer.test").language == "de"

    later = _mail(body="Any news?").replace(b"alice-1@", b"alice-2@")
    # The rule answers a sender once a week: a second rule answers the second mail.
    rule = AutoResponseRule.objects.get(mailbox=box)
    AutoResponseRule.objects.create(mailbox=box, name="Again", template=rule.template)
    message = stored(box, later)
    assert process_message(message.pk) == ProcessingState.DONE

    row = OutboxMessage.objects.get(in_reply_to=message, rule__name="Again")
    assert row.subject == "Eingegangen: Broken printer"
    detail = ProcessingRecord.objects.get(message=message).steps[-1]["detail"]
    assert "Again: reply queued to alice@customer.test in de (the contact's language (de))" in (
        detail
    )


def test_an_html_template_is_answered_in_the_chosen_language() -> None:
    _, reply, _ = _reply_to(_acknowledging(is_html=True), _mail(b"Content-Language: de"))

    html_part = reply.get_body(("html",))
    assert html_part is not None
    assert "Vielen Dank" in html_part.get_content()
    assert reply["Content-Language"] == "de"
    assert html_part["Content-Language"] is None


@pytest.mark.parametrize(
    "declared",
    [
        b"Content-Language: =?UTF-8?Q?de=0D=0ABcc:_x@evil.test?=",
        b"Content-Language: de\r\n Bcc: x@evil.test",
        b"Content-Language: de\r\nBcc: x@evil.test",
        b"Content-Language: de<script>, " + b"x" * 300,
        b"Accept-Language: =?UTF-8?Q?de=0ABcc:_x@evil.test?=;q=1",
        b"Content-Language: " + b"de-" * 40 + b"AT",
    ],
    ids=["encoded-crlf", "folded", "real-bcc", "script", "accept-encoded", "long"],
)
def test_a_sender_declared_language_never_reaches_a_header_as_written(declared: bytes) -> None:
    _, reply, _ = _reply_to(_acknowledging(), _mail(declared))

    assert reply.get_all("Bcc") is None
    assert reply.get_all("Content-Language") in (["en"], ["de"])
    assert b"evil" not in bytes(reply)
    assert b"script" not in bytes(reply)


def _compose(language: str | None) -> bytes:
    return compose_reply(
        from_name="Support",
        from_email="support@example.test",
        to_email="alice@customer.test",
        subject="Hi",
        text="Hallo.",
        html=None,
        message_id="<r-1@example.test>",
        in_reply_to="",
        references=[],
        loop_token="mailroom@example.test",
        date=datetime(2025, 1, 1, tzinfo=UTC),
        language=language,
    )


def test_compose_writes_content_language_once() -> None:
    raw = _compose("pt-BR")
    assert raw.count(b"Content-Language:") == 1
    assert b"\r\nContent-Language: pt-BR\r\n" in raw


def test_compose_leaves_content_language_out_without_a_language() -> None:
    assert b"Content-Language" not in _compose(None)


@pytest.mark.parametrize(
    "language",
    ["de\r\nBcc: x@evil.test", "de\nBcc: x", "", "*", "de AT", "de-" + "x" * 40, "=?utf-8?q?de?="],
)
def test_compose_refuses_what_is_not_a_language_tag(language: str) -> None:
    with pytest.raises(ValueError, match="not a language tag"):
        _compose(language)


def test_a_mailbox_answer_language_comes_after_the_sender_and_before_the_template() -> None:
    """Nothing known of the sender (no header, too little text): the mailbox's language."""
    choice = choose_language(["en", "de", "fr"], body_text="Hi", mailbox_default="fr", default="en")
    assert (choice.translation, choice.why) == ("fr", "mailbox default")
    choice = choose_language(
        ["en", "de", "fr"], content_language="de", mailbox_default="fr", default="en"
    )
    assert choice.translation == "de"
    choice = choose_language(["en", "de"], mailbox_default="fr", default="en")
    assert (choice.translation, choice.why) == ("en", "template default")
