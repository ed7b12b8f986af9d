"""The engine: exactly once, all or nothing, and failures kept with their cause."""

from __future__ import annotations

import pytest

from mailroom.models import Case, Message, ProcessingRecord, ProcessingState
from mailroom.pipeline import engine
from mailroom.pipeline.base import Context, StepError
from mailroom.pipeline.processors import case as case_module
from tests.pipeline.helpers import mailbox, stored

pytestmark = pytest.mark.django_db


def test_it_processes_a_message_only_once() -> None:
    message = stored(mailbox("case"))
    assert engine.process_message(message.pk) == ProcessingState.DONE
    assert engine.process_message(message.pk) == ProcessingState.DONE
    assert Case.objects.count() == 1


def test_it_rolls_back_a_failed_run_and_keeps_the_message(monkeypatch: pytest.MonkeyPatch) -> None:
    message = stored(mailbox("case"))
    created: list[int] = []

    def fail_after_creating(ctx: Context, *args: object, **kwargs: object) -> Case:
        created.append(Case.objects.create(subject="half done").pk)
        raise RuntimeError("database went away")

    monkeypatch.setattr(case_module, "create_case_from_message", fail_after_creating)

    states = [engine.process_message(message.pk) for _ in range(engine.MAX_ATTEMPTS)]

    assert states[:-1] == [ProcessingState.PENDING] * (engine.MAX_ATTEMPTS - 1)
    assert states[-1] == ProcessingState.FAILED
    assert len(created) == engine.MAX_ATTEMPTS
    assert not Case.objects.exists()  # every half-done attempt was rolled back
    record = ProcessingRecord.objects.get()
    assert record.error == "RuntimeError: database went away"
    assert Message.objects.get().read_raw().startswith(b"Return-Path")


def test_it_does_not_retry_a_permanent_error(monkeypatch: pytest.MonkeyPatch) -> None:
    message = stored(mailbox("case"))

    def refuse(*args: object, **kwargs: object) -> Case:
        raise StepError("no such queue", permanent=True)

    monkeypatch.setattr(case_module, "create_case_from_message", refuse)

    assert engine.process_message(message.pk) == ProcessingState.FAILED


def test_it_fails_a_mailbox_whose_processor_is_not_installed() -> None:
    message = stored(mailbox("plugin-that-was-removed"))
    assert engine.process_message(message.pk) == ProcessingState.FAILED
    assert "no processor is registered" in ProcessingRecord.objects.get().error
