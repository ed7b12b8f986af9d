"""Processor "none": keep the message, create nothing."""

from __future__ import annotations

import pytest

from mailroom.models import Case, Lead, ProcessingRecord, ProcessingState
from mailroom.pipeline.engine import process_message
from tests.pipeline.helpers import mailbox, stored

pytestmark = pytest.mark.django_db


def test_it_keeps_the_message_and_creates_nothing() -> None:
    message = stored(mailbox("none"))

    assert process_message(message.pk) == ProcessingState.DONE

    assert not Case.objects.exists() and not Lead.objects.exists()
    steps = [s["step"] for s in ProcessingRecord.objects.get().steps]
    assert steps == ["classify", "thread", "run_processor", "respond"]
