"""A processor from another package (the example of ``docs/adding-a-processor.md``), found
through its entry point and run end to end: Dovecot → sync → pipeline → a Case."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.core.management.base import CommandError
from django.test import Client

from mailroom.models import Case, CasePriority, Mailbox, ProcessingState
from mailroom.pipeline.processors.registry import load_processor, processor_choices
from tests.conversations.helpers import deliver, mail
from tests.servers.fixtures import ImapAccount

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("plugin")]

LABEL = "Convert to Case when a keyword is mentioned"


def test_the_installed_processor_is_offered_beside_the_built_in_ones() -> None:
    choices = dict(processor_choices())
    assert choices["keyword-case"] == LABEL
    assert list(choices)[:3] == ["none", "lead", "case"]
    assert type(load_processor("keyword-case")).__module__ == "mailroom_keyword_cases.processor"


def test_it_creates_a_case_for_a_keyword_and_joins_replies_to_it(
    make_mailbox: Callable[..., Mailbox], imap_account: ImapAccount
) -> None:
    User.objects.create_user("dana", is_staff=True)  # an owner must read the mailbox
    make_mailbox(processor="keyword-case", keywords="outage, refund", priority="high", owner="dana")

    record = deliver(imap_account, mail(subject="Total OUTAGE in Berlin")[0])
    assert record.state == ProcessingState.DONE
    case = record.case
    assert case is not None
    assert (case.subject, case.priority, case.owner) == (
        "Total OUTAGE in Berlin",
        CasePriority.HIGH,
        User.objects.get(username="dana"),
    )
    assert case.conversation == record.conversation
    assert record.outcome == f"case #{case.number} created (mentions “outage”)"

    raw, _ = mail(subject="Hello", body="Just saying hello; no trouble at all.")
    quiet = deliver(imap_account, raw)
    assert quiet.case is None and quiet.outcome == "no case: no keyword mentioned"

    first = case.conversation.messages.get()
    reply = deliver(
        imap_account,
        mail(subject="Re: Total OUTAGE in Berlin", in_reply_to=first.message_id)[0],
    )
    assert reply.case == case and reply.outcome == f"joined case #{case.number}"
    assert Case.objects.count() == 1


def test_its_settings_are_checked_by_the_cli_with_its_own_messages(
    make_mailbox: Callable[..., Mailbox],
) -> None:
    with pytest.raises(CommandError, match="keywords: Keywords need 3 characters or more: ab"):
        make_mailbox(processor="keyword-case", keywords="ab, outage")
    with pytest.raises(CommandError, match="keywords: This field is required"):
        make_mailbox(processor="keyword-case")


def test_the_mailbox_form_shows_its_settings_and_their_errors(admin_client: Client) -> None:
    page = admin_client.get("/mailboxes/new/").content.decode()
    assert f'<option value="keyword-case">{LABEL}</option>' in page
    assert 'id="settings-keyword-case"' in page
    assert 'name="keyword-case-keywords"' in page
    form = admin_client.get("/mailboxes/new/").context["form"]
    data = {
        name: value for name, value in form.initial.items() if isinstance(value, str | int | bool)
    }
    response = admin_client.post(
        "/mailboxes/new/",
        {
            **data,
            "label": "Urgent",
            "email": "urgent@example.test",
            "account_type": "other",
            "imap_port": 993,
            "smtp_port": 465,
            "imap_encryption": "ssl",
            "smtp_encryption": "ssl",
            "processor_kind": "keyword-case",
            "keyword-case-keywords": " , ",
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    section = page.split('id="settings-keyword-case"', 1)[1].split("</section>", 1)[0]
    field = section.split('id="field-keyword-case-keywords"', 1)[1].split('id="field-', 1)[0]
    assert "Enter at least one keyword." in field
    assert not Mailbox.objects.exists()
