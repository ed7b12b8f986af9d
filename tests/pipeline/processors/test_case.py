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
    box = mailbox("case", owner="olivia", priority="high")
    box.authorized_users.add(owner)
    message = stored(box)

    process_message(message.pk)

    case = Case.objects.get()
    assert (case.subject, case.description) == ("Broken printer", "It does not print.\n")
    assert case.owner == owner and case.priority == CasePriority.HIGH
    assert case.message == message
    assert ProcessingRecord.objects.get().outcome == f"case #{case.number} created"


def test_an_owner_who_can_no_longer_read_the_mailbox_gets_no_new_case() -> None:
    # Chosen while she could read it (the form refuses anyone else); her role went since.
    User.objects.create_user("olivia")
    box = mailbox("case", owner="olivia", assignee="olivia")
    message = stored(box)

    process_message(message.pk)

    case = Case.objects.get()
    assert case.owner is None and case.assignee is None
    assert ProcessingRecord.objects.get().outcome == (
        f"case #{case.number} created (owner olivia cannot read this mailbox; "
        "assignee olivia cannot read this mailbox: left unassigned)"
    )


def test_it_reports_unknown_users_and_priorities_at_their_field() -> None:
    errors = load_processor("case").validate_settings(
        {"owner": "nobody", "assignee": "ghost", "priority": "urgent"}
    )
    assert set(errors) == {"owner", "assignee", "priority"}


def test_it_validates_the_closed_case_and_automatic_mail_settings() -> None:
    processor = load_processor("case")
    assert processor.validate_settings({"closed_case_replies": "new_case"}) == {}
    assert processor.validate_settings({"automatic_cases": "yes"}) == {}
    assert processor.validate_settings({"automatic_cases": False}) == {}
    errors = processor.validate_settings({"closed_case_replies": "ignore", "automatic_cases": "2"})
    assert set(errors) == {"closed_case_replies", "automatic_cases"}


def test_it_returns_a_typed_result_and_the_record_links_to_the_case() -> None:
    message = stored(mailbox("case"))

    process_message(message.pk)

    record = ProcessingRecord.objects.get()
    case = Case.objects.get()
    assert record.case == case and record.lead is None
    assert record.conversation is not None and record.conversation == case.conversation
    message.refresh_from_db()
    assert message.conversation == case.conversation and message.contact == case.contact
