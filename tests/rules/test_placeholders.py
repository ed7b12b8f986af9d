"""A rule whose response uses a record placeholder the mailbox's processor leaves empty
("Your case number is {{ case_number }}" on a mailbox that converts to Leads) is pointed out
on the mailbox page and when the mailbox is saved, before a customer gets "number is ."."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from mailroom.models import EmailTemplateTranslation, Mailbox, SalesChannel
from mailroom.rules.placeholders import empty_placeholders
from tests.autoresponse.helpers import add_rule
from tests.web.test_mailbox_form import VALID

pytestmark = pytest.mark.django_db

CASE_TEXT = "Ihre Fallnummer ist {{ case_number }}. Details: {{record_url}}"


@pytest.fixture
def admin() -> Client:
    client = Client()
    client.force_login(User.objects.create_user("alice", password="x", is_staff=True))
    return client


def _mailbox_with_rule(admin: Client, processor: str) -> Mailbox:
    SalesChannel.objects.create(name="Direct")
    assert admin.post("/mailboxes/new/", {**VALID, "processor_kind": processor}).status_code == 302
    mailbox = Mailbox.objects.get()
    rule = add_rule(mailbox, "Printer help")
    EmailTemplateTranslation.objects.filter(template=rule.template).update(body=CASE_TEXT)
    return mailbox


@pytest.mark.parametrize(
    ("kind", "empty"),
    [
        ("case", []),
        ("lead", ["case_number"]),
        ("none", ["case_number", "record_url"]),
        ("some-plugin", []),  # what a plug-in fills is not known: nothing is claimed
    ],
)
def test_it_knows_which_placeholders_each_processor_leaves_empty(
    admin: Client, kind: str, empty: list[str]
) -> None:
    rule = _mailbox_with_rule(admin, "case").rules.get()
    assert empty_placeholders(rule, kind) == empty


def test_switching_to_leads_warns_on_save_and_on_the_mailbox_page(admin: Client) -> None:
    mailbox = _mailbox_with_rule(admin, "case")
    assert "placeholder-warning" not in admin.get(f"/mailboxes/{mailbox.pk}/").content.decode()

    edit = {**VALID, "processor_kind": "lead", "password": ""}
    response = admin.post(f"/mailboxes/{mailbox.pk}/edit/", edit, follow=True)

    page = response.content.decode()
    expected = (
        "Rule “Printer help” uses {{ case_number }}, which stays empty in its answers: this "
        "mailbox converts mail to Leads."
    )
    assert expected in page  # the save message
    rules = page.split('id="rules"', 1)[1]
    assert "placeholder-warning" in rules and expected in rules  # and beside the rule


def test_an_inactive_rule_is_not_pointed_out(admin: Client) -> None:
    mailbox = _mailbox_with_rule(admin, "lead")
    mailbox.rules.update(active=False)
    assert "placeholder-warning" not in admin.get(f"/mailboxes/{mailbox.pk}/").content.decode()
