"""Processor "case"."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from mailroom.models import Case, CasePriority, ProcessingRecord
from mailroom.pipeline.engine import process_message
from mailroom.pipeline.processors.registry import load_processor
from tests.pipeline.helpers import mailbox, stored

pytestmark = pytest.mark.django_db


def test_it_creates_a_case_with_subject_text_owner_and_priority() -> None:
    owner = User.objects.create_user("olivia")
    message = stored(mailbox("case", owner="olivia", priority="high"))

    process_message(message.pk)

    case = Case.objects.get()
    assert (case.subject, case.description) == ("Broken printer", "It does not print.\n")
    assert case.owner == owner and case.priority == CasePriority.HIGH
    assert case.message == message
    assert ProcessingRecord.objects.get().outcome == f"case #{case.number} created"


def test_it_reports_unknown_users_and_priorities_at_their_field() -> None:
    errors = load_processor("case").validate_settings(
        {"owner": "nobody", "assignee": "ghost", "priority": "urgent"}
    )
    assert set(errors) == {"owner", "assignee", "priority"}
