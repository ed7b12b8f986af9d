"""Fixtures of the pipeline tests."""

from __future__ import annotations

import pytest

from tests.pipeline.clock import Clock, install_clock


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Time as mailroom sees it (``timezone.now``), moved on by the test."""
    return install_clock(monkeypatch)
