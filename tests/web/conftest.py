"""Fixtures of the web tests: a task recorder in place of the executor."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mailroom.tasks.dispatch import set_executor


class TaskRecorder:
    """Stands in for the executor ``mailroom run`` installs: records what was enqueued."""

    def __init__(self) -> None:
        self.tasks: list[tuple[object, ...]] = []

    def submit(self, name: str, *args: object) -> None:
        self.tasks.append((name, *args))


@pytest.fixture
def enqueued() -> Iterator[list[tuple[object, ...]]]:
    """The tasks enqueued during the test, as (name, *args); the test runs the commit hooks
    (``django_capture_on_commit_callbacks(execute=True)``), as a real commit would."""
    recorder = TaskRecorder()
    set_executor(recorder)
    try:
        yield recorder.tasks
    finally:
        set_executor(None)
