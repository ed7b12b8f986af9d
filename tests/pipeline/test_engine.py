"""The engine: exactly once, all or nothing, and failures kept with their cause."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from mailroom.models import Case, Message, ProcessingRecord, ProcessingState
from mailroom.pipeline import engine
from mailroom.pipeline.base import Context, StepError
from mailroom.pipeline.processors import case as case_module
from mailroom.tasks import jobs
from mailroom.tasks.dispatch import set_executor
from tests.pipeline.clock import Clock
from tests.pipeline.helpers import mailbox, stored

pytestmark = pytest.mark.django_db

# Past any backoff the engine may have chosen.
LATER = engine.BACKOFF_CAP * 2


def test_it_processes_a_message_only_once() -> None:
    message = stored(mailbox("case"))
    assert engine.process_message(message.pk) == ProcessingState.DONE
    assert engine.process_message(message.pk) == ProcessingState.DONE
    assert Case.objects.count() == 1


def test_it_rolls_back_a_failed_run_and_keeps_the_message(
    monkeypatch: pytest.MonkeyPatch, clock: Clock
) -> None:
    message = stored(mailbox("case"))
    created: list[int] = []

    def fail_after_creating(ctx: Context, *args: object, **kwargs: object) -> Case:
        created.append(Case.objects.create(subject="half done").pk)
        raise RuntimeError("database went away")

    monkeypatch.setattr(case_module, "create_case_from_message", fail_after_creating)

    states = []
    for _ in range(engine.MAX_ATTEMPTS):
        states.append(engine.process_message(message.pk))
        clock.advance(LATER)

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
    record = ProcessingRecord.objects.get()
    assert record.attempts == 1
    assert record.retry_at is None


def test_it_fails_a_mailbox_whose_processor_is_not_installed() -> None:
    message = stored(mailbox("plugin-that-was-removed"))
    assert engine.process_message(message.pk) == ProcessingState.FAILED
    assert "no processor is registered" in ProcessingRecord.objects.get().error


# -- A failed attempt is never silent ------------------------------------------------------


class Recorder:
    """An executor that only notes what it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[object, ...]]] = []

    def submit(self, name: str, *args: object) -> None:
        self.calls.append((name, args))


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    executor = Recorder()
    set_executor(executor)
    yield executor
    set_executor(None)


class Outage:
    """Creating a Case fails while ``down`` (after writing one, which the savepoint must
    undo); ``tries`` counts the attempts that reached it."""

    def __init__(self) -> None:
        self.down = True
        self.tries = 0


@pytest.fixture
def outage(monkeypatch: pytest.MonkeyPatch) -> Outage:
    state = Outage()
    real = case_module.create_case_from_message

    def create(*args: Any, **kwargs: Any) -> Case:
        if not state.down:
            return real(*args, **kwargs)
        state.tries += 1
        Case.objects.create(subject="half done")
        raise RuntimeError("the CRM is down")

    monkeypatch.setattr(case_module, "create_case_from_message", create)
    return state


def _swept(recorder: Recorder, capture: Callable[..., Any]) -> list[int]:
    """Run the sweep; the message ids it enqueued for processing."""
    recorder.calls.clear()
    with capture(execute=True):
        jobs.sweep()
    return [i for name, args in recorder.calls if name == "process_messages" for i in args[0]]  # type: ignore[attr-defined]


def test_it_keeps_the_steps_that_ran_before_the_one_that_failed(outage: Outage) -> None:
    message = stored(mailbox("case"))

    assert engine.process_message(message.pk) == ProcessingState.PENDING

    record = ProcessingRecord.objects.get()
    assert [(s["step"], s["outcome"]) for s in record.steps] == [
        ("classify", "ok"),
        ("thread", "ok"),
        ("run_processor", "error"),
    ]
    assert [s.get("rolled_back") for s in record.steps] == [True, True, None]
    assert record.steps[-1]["detail"] == "RuntimeError: the CRM is down"
    assert record.error == "RuntimeError: the CRM is down"
    assert record.outcome == ""
    # What the attempt wrote in its savepoint went with it (the Case half made).
    assert outage.tries == 1
    assert not Case.objects.exists()
    assert record.conversation is None and record.case is None


def test_it_waits_out_a_growing_backoff_between_attempts(
    outage: Outage,
    clock: Clock,
    recorder: Recorder,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    message = stored(mailbox("case"))
    clock.advance(timedelta(minutes=5))  # past the sweep's grace for a fresh message

    started = timezone.now()
    engine.process_message(message.pk)
    record = ProcessingRecord.objects.get()
    assert record.attempts == 1
    assert record.retry_at is not None
    assert timedelta(minutes=1) <= record.retry_at - started <= timedelta(minutes=1.25, seconds=1)

    # A task naming the message early (say, merged with newer mail) does not retry it, nor
    # does the sweep enqueue it.
    clock.advance(timedelta(seconds=50))
    assert engine.process_message(message.pk) == ProcessingState.PENDING
    assert engine.process_messages([message.pk]) == {message.pk: ProcessingState.PENDING}
    assert message.pk not in _swept(recorder, django_capture_on_commit_callbacks)
    assert outage.tries == 1
    assert ProcessingRecord.objects.get().attempts == 1

    # Once due, the sweep enqueues it and the task retries it; the next wait is longer.
    clock.advance(timedelta(minutes=1))
    assert _swept(recorder, django_capture_on_commit_callbacks) == [message.pk]
    started = timezone.now()
    jobs.process_messages((message.pk,))
    record = ProcessingRecord.objects.get()
    assert outage.tries == 2
    assert record.attempts == 2
    assert record.state == ProcessingState.PENDING
    assert record.retry_at is not None
    assert timedelta(minutes=4) <= record.retry_at - started <= timedelta(minutes=5, seconds=1)


def test_it_fails_for_good_after_the_last_attempt(
    outage: Outage,
    clock: Clock,
    recorder: Recorder,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    message = stored(mailbox("case"))

    swept: list[int] = []
    for _ in range(engine.MAX_ATTEMPTS + 2):
        clock.advance(LATER)
        for message_id in _swept(recorder, django_capture_on_commit_callbacks):
            swept.append(message_id)
            jobs.process_messages((message_id,))

    # Enqueued for each attempt, then no more.
    assert swept == [message.pk] * engine.MAX_ATTEMPTS
    record = ProcessingRecord.objects.get()
    assert outage.tries == engine.MAX_ATTEMPTS
    assert record.state == ProcessingState.FAILED
    assert record.attempts == engine.MAX_ATTEMPTS
    assert record.retry_at is None
    assert record.error == "RuntimeError: the CRM is down"
    assert record.steps[-1]["outcome"] == "error"


def test_a_successful_retry_clears_the_error_and_the_retry_time(
    outage: Outage, clock: Clock
) -> None:
    message = stored(mailbox("case"))
    engine.process_message(message.pk)
    outage.down = False

    clock.advance(LATER)
    assert engine.process_message(message.pk) == ProcessingState.DONE

    record = ProcessingRecord.objects.get()
    assert record.attempts == 2
    assert record.retry_at is None
    assert record.error == ""
    assert [s["outcome"] for s in record.steps] == ["ok"] * 4
    assert not any(s.get("rolled_back") for s in record.steps)
    assert record.case == Case.objects.get()
    assert record.conversation is not None


def test_the_backoff_grows_fourfold_up_to_its_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine.random, "uniform", lambda low, high: low)
    shortest = [engine.backoff(n) for n in range(1, 6)]
    monkeypatch.setattr(engine.random, "uniform", lambda low, high: high)
    longest = [engine.backoff(n) for n in range(1, 6)]

    minutes = [timedelta(minutes=m) for m in (1, 4, 16, 60, 60)]
    assert shortest == minutes
    assert longest == [m * 1.25 for m in minutes]


def test_a_reset_message_is_due_at_once_with_fresh_attempts(outage: Outage, clock: Clock) -> None:
    message = stored(mailbox("case"))
    for _ in range(engine.MAX_ATTEMPTS):
        engine.process_message(message.pk)
        clock.advance(LATER)
    assert ProcessingRecord.objects.get().state == ProcessingState.FAILED

    outage.down = False
    engine.reset_processing(message)
    record = ProcessingRecord.objects.get()
    assert (record.state, record.attempts, record.retry_at, record.error) == (
        ProcessingState.PENDING,
        0,
        None,
        "",
    )
    assert engine.pending_message_ids() == [message.pk]

    assert engine.process_message(message.pk) == ProcessingState.DONE
    assert Case.objects.count() == 1
