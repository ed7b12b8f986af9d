"""Processing a message again: it joins what the first run made and never answers twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from mailroom.models import (
    AutoResponseRule,
    Case,
    Conversation,
    EmailTemplate,
    EmailTemplateTranslation,
    Mailbox,
    OutboxMessage,
    OutboxState,
    ProcessingRecord,
    ProcessingState,
)
from mailroom.pipeline.engine import process_message, reset_processing
from tests.pipeline.helpers import mailbox, stored

pytestmark = pytest.mark.django_db


def _answering(kind: str = "case") -> Mailbox:
    box = mailbox(kind)
    template = EmailTemplate.objects.create(name=f"t-{box.pk}")
    EmailTemplateTranslation.objects.create(
        template=template, language="en", subject="Thanks", body="Got it."
    )
    AutoResponseRule.objects.create(mailbox=box, name="All", template=template)
    return box


def test_it_joins_the_case_and_queues_no_second_reply() -> None:
    message = stored(_answering())
    assert process_message(message.pk) == ProcessingState.DONE
    assert OutboxMessage.objects.count() == 1

    reset_processing(message)
    assert process_message(message.pk) == ProcessingState.DONE

    assert Case.objects.count() == 1
    assert Conversation.objects.count() == 1
    assert OutboxMessage.objects.count() == 1
    record = ProcessingRecord.objects.get()
    assert record.case == Case.objects.get()
    assert record.steps[-1]["step"] == "respond"
    assert record.steps[-1]["detail"] == "All: this message was answered already"


@pytest.mark.parametrize(
    "state", [OutboxState.SENT, OutboxState.FAILED, OutboxState.ABANDONED], ids=str
)
def test_it_never_answers_a_message_again_whatever_became_of_its_reply(
    state: OutboxState,
) -> None:
    message = stored(_answering())
    assert process_message(message.pk) == ProcessingState.DONE
    # The reply went out (or was refused, or its fate is unknown) a while ago.
    OutboxMessage.objects.update(state=state, created_at=timezone.now() - timedelta(days=8))

    reset_processing(message)
    assert process_message(message.pk) == ProcessingState.DONE

    assert OutboxMessage.objects.count() == 1
    assert OutboxMessage.objects.get().state == state
    assert ProcessingRecord.objects.get().error == ""
