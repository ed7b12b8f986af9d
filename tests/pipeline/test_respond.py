"""The respond step: a reply that cannot be made never undoes the Case or fails the message."""

from __future__ import annotations

import pytest

from mailroom.models import (
    AutoResponseRule,
    Case,
    EmailTemplate,
    EmailTemplateTranslation,
    Mailbox,
    OutboxMessage,
    ProcessingRecord,
    ProcessingState,
)
from mailroom.pipeline.engine import process_message
from tests.pipeline.helpers import MAIL, mailbox, stored

pytestmark = pytest.mark.django_db


def _catch_all(box_kind: str = "case", *, translated: bool = True) -> Mailbox:
    box = mailbox(box_kind)
    template = EmailTemplate.objects.create(name=f"t-{box.pk}")
    if translated:
        EmailTemplateTranslation.objects.create(
            template=template, language="en", subject="Thanks", body="Got it."
        )
    AutoResponseRule.objects.create(mailbox=box, name="All", template=template)
    return box


@pytest.mark.parametrize(
    "return_path",
    [b"<j\xc3\xb6e@example.com>", b"<jane@example.com.>", b"<a_b@ex_ample.com>"],
    ids=["utf8-local-part", "trailing-dot", "underscore-domain"],
)
def test_it_suppresses_a_reply_to_an_address_it_cannot_send_to(return_path: bytes) -> None:
    box = _catch_all()
    raw = MAIL.replace(b"<alice@customer.test>", return_path, 1)
    message = stored(box, raw)

    assert process_message(message.pk) == ProcessingState.DONE

    assert Case.objects.count() == 1
    assert not OutboxMessage.objects.exists()
    assert "no usable Return-Path" in ProcessingRecord.objects.get().steps[-1]["detail"]


def test_it_keeps_the_case_when_the_template_has_no_translation() -> None:
    box = _catch_all(translated=False)
    message = stored(box)

    assert process_message(message.pk) == ProcessingState.DONE

    assert Case.objects.count() == 1
    assert not OutboxMessage.objects.exists()
    assert "reply not queued" in ProcessingRecord.objects.get().steps[-1]["detail"]


def test_an_edited_rule_applies_to_the_very_next_message() -> None:
    box = _catch_all()
    first = stored(box)
    assert process_message(first.pk) == ProcessingState.DONE
    assert OutboxMessage.objects.count() == 1

    # The rules are kept in memory between batches; saving one drops them at once.
    rule = AutoResponseRule.objects.get(mailbox=box)
    rule.active = False
    rule.save()  # (a queryset update() would bypass the signal; mailroom never does that)
    second = stored(box, MAIL.replace(b"alice@", b"bob@"))
    assert process_message(second.pk) == ProcessingState.DONE

    assert OutboxMessage.objects.count() == 1
    assert ProcessingRecord.objects.get(message=second).steps[-1]["detail"] == "no active rule"
