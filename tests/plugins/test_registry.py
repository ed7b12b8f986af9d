"""Installed processors that cannot be used are left out and logged; mailroom runs on."""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailroom.models import ProcessingRecord, ProcessingState
from mailroom.pipeline.engine import process_message
from mailroom.pipeline.processors.registry import processor_label, registered
from tests.pipeline.helpers import mailbox, stored

ENTRY_POINTS = """\
[mailroom.processors]
missing = mailroom_no_such_package.processor:Missing
case = mailroom.pipeline.processors.keep:KeepProcessor
not-a-processor = mailroom.pipeline.processors.registry:GROUP
renamed = mailroom.pipeline.processors.keep:KeepProcessor
"""


@pytest.fixture
def broken_distribution(tmp_path: Path) -> Iterator[None]:
    """An installed distribution (its metadata as an installer writes it) whose entry points
    are all wrong in some way."""
    info = tmp_path / "mailroom_broken-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mailroom-broken\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    sys.path.insert(0, str(tmp_path))
    importlib.invalidate_caches()
    registered.cache_clear()
    try:
        yield
    finally:
        sys.path.remove(str(tmp_path))
        importlib.invalidate_caches()
        registered.cache_clear()


@pytest.mark.usefixtures("broken_distribution")
def test_unusable_processors_are_left_out_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="mailroom.pipeline.processors.registry"):
        kinds = registered()
    assert list(kinds) == ["none", "lead", "case"]
    assert kinds["case"].__name__ == "CreateCaseProcessor"
    logged = caplog.text
    assert "entry point missing = mailroom_no_such_package.processor:Missing" in logged
    assert "failed to load" in logged and "No module named 'mailroom_no_such_package'" in logged
    assert "the kind 'case' is taken" in logged
    assert "not-a-processor" in logged and "is not a mailroom Processor subclass" in logged
    assert "declares kind 'none', not 'renamed'" in logged


@pytest.mark.django_db
@pytest.mark.usefixtures("broken_distribution")
def test_a_mailbox_set_to_a_processor_not_installed_fails_its_mail_with_the_reason() -> None:
    message = stored(mailbox("missing"))
    assert process_message(message.pk) == ProcessingState.FAILED
    record = ProcessingRecord.objects.get(message=message)
    assert "no processor is registered as 'missing': is its package installed?" in record.error
    assert processor_label("missing") == "missing (not installed)"
