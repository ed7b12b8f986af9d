"""Fixtures of the fault tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.processes import Installation


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with every migration applied, for installations to start from."""
    data_dir = tmp_path_factory.mktemp("migrated")
    Installation(data_dir).run("migrate")
    return data_dir
