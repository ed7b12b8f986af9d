"""A clock the tests move forward: ``django.utils.timezone.now`` plus an offset."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone


class Clock:
    """What ``timezone.now()`` returns while the fixture is in place: real time, moved on by
    every :meth:`advance`."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def advance(self, delta: timedelta) -> None:
        self.offset += delta

    def now(self) -> datetime:
        return _real_now() + self.offset


_real_now = timezone.now


def install_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Put a :class:`Clock` in place of ``timezone.now`` for the rest of the test."""
    moved = Clock()
    monkeypatch.setattr(timezone, "now", moved.now)
    return moved
