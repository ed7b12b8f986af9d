"""The rule editor's dry run: for the rule on the page, unsaved, what it would do with the
mailbox's latest emails — answer (in which language, why) or not (which condition, which loop
rule) — and nothing is sent or recorded."""

from __future__ import annotations

from datetime import timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from mailroom.models import AnswerRecord, AutoResponseRule, Mailbox, OutboxMessage
from mailroom.rules.dry_run import DraftRule, dry_run
from mailroom.rules.evaluate import ConditionSpec
from tests.pipeline.helpers import mailbox as make_mailbox
from tests.pipeline.helpers import stored

pytestmark = pytest.mark.django_db


def _mail(subject: str, *extra: str, age: timedelta = timedelta(minutes=5)) -> bytes:
    lines = [
        "Return-Path: <ann@kunde.test>",
        "From: Ann Weber <ann@kunde.test>",
        "To: support@example.test",
        f"Subject: {subject}",
        f"Date: {format_datetime(timezone.now() - age)}",
        f"Message-ID: <{abs(hash((subject, extra)))}@kunde.test>",
        *extra,
    ]
    return ("\r\n".join(lines) + "\r\n\r\nHallo.\r\n").encode()


@pytest.fixture
def box() -> Mailbox:
    box = make_mailbox()
    stored(box, _mail("Drucker kaputt", "Content-Language: de"))
    stored(box, _mail("Invoice question"))
    stored(box, _mail("Drucker: Abwesenheit", "Auto-Submitted: auto-replied"))
    stored(box, _mail("Drucker von letzter Woche", age=timedelta(days=6)))
    return box


def _rows(plan: list[Any]) -> dict[str, tuple[bool, str]]:
    return {p.message.subject: (p.answer, p.language if p.answer else p.reason) for p in plan}


def test_it_plans_each_email_and_says_why_not(box: Mailbox) -> None:
    draft = DraftRule(
        conditions=[ConditionSpec("subject", "contains", "drucker")],
        case_sensitive=False,
        languages=["en", "de"],
        default_language="en",
    )
    rows = _rows(dry_run(box, draft))
    assert rows["Drucker kaputt"] == (True, "de (Content-Language: de)")
    assert rows["Invoice question"] == (False, "condition 1: Subject does not contain “drucker”")
    answer, reason = rows["Drucker: Abwesenheit"]
    assert not answer and reason.startswith("automatic mail")
    assert rows["Drucker von letzter Woche"] == (
        False,
        "stale: dated 144 hours ago, over the 24-hour limit",
    )
    assert not OutboxMessage.objects.exists() and not AnswerRecord.objects.exists()


def test_the_editor_shows_the_dry_run_without_saving(box: Mailbox) -> None:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.test", "pw"))
    data = {
        "name": "Printer",
        "active": "on",
        "position": "0",
        "response": "inline",
        "type": "text",
        "default_language": "en",
        "conditions-TOTAL_FORMS": "1",
        "conditions-INITIAL_FORMS": "0",
        "conditions-0-field": "subject",
        "conditions-0-operator": "contains",
        "conditions-0-value": "drucker",
        "texts-TOTAL_FORMS": "2",
        "texts-INITIAL_FORMS": "0",
        "texts-0-language": "en",
        "texts-0-subject": "Re",
        "texts-0-body": "Thanks",
        "texts-1-language": "de",
        "texts-1-subject": "AW",
        "texts-1-body": "Danke",
        "dry_run": "1",
    }
    page = client.post(f"/mailboxes/{box.pk}/rules/new/", data).content.decode()
    assert 'id="dry-run"' in page
    assert page.count('class="would-answer"') == 1
    assert page.count('class="would-not"') == 3
    assert "de (Content-Language: de)" in page
    assert "condition 1: Subject does not contain “drucker”" in page
    assert not AutoResponseRule.objects.exists()
    assert not OutboxMessage.objects.exists()
