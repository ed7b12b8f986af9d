"""The mailbox form's Email processing: "Convert to Lead" only with an active Sales channel,
and only active Lead sources offered."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client

from mailroom.crm.lists import ensure_default_lead_sources
from mailroom.mailboxes.actions import MailboxInput, save_mailbox
from mailroom.models import LeadSource, Mailbox, SalesChannel
from tests.web.test_mailbox_form import VALID

pytestmark = pytest.mark.django_db


@pytest.fixture
def client() -> Client:
    client = Client()
    client.force_login(User.objects.create_user("alice", password="x", is_staff=True))
    return client


def _kind_menu(page: str) -> str:
    return page.split('id="field-processor_kind"', 1)[1].split("</select>", 1)[0]


def _source_menu(page: str) -> str:
    return page.split('id="field-lead-source"', 1)[1].split("</select>", 1)[0]


def test_it_leaves_convert_to_lead_out_and_says_where_to_activate_a_channel(
    client: Client,
) -> None:
    page = client.get("/mailboxes/new/").content.decode()
    assert "Convert to Lead" not in _kind_menu(page)
    assert "Convert to Case" in _kind_menu(page)
    line = page.split('id="no-sales-channel"', 1)[1].split("</p>", 1)[0]
    assert "needs an active sales channel" in line
    assert 'href="/sales-channels/"' in line

    SalesChannel.objects.create(name="Direct", active=False)
    assert "Convert to Lead" not in _kind_menu(client.get("/mailboxes/new/").content.decode())

    SalesChannel.objects.update(active=True)
    page = client.get("/mailboxes/new/").content.decode()
    assert '<option value="lead">Convert to Lead</option>' in _kind_menu(page)
    assert 'id="no-sales-channel"' not in page


def test_it_refuses_a_posted_convert_to_lead_with_the_reason(client: Client) -> None:
    page = client.post("/mailboxes/new/", {**VALID, "processor_kind": "lead"}).content.decode()
    block = page.split('id="field-processor_kind"', 1)[1].split('<div class="field', 1)[0]
    assert "Convert to Lead needs an active sales channel: activate one on the Sales" in block
    assert not Mailbox.objects.exists()


def test_a_mailbox_already_converting_to_leads_keeps_it_without_a_channel(
    client: Client,
) -> None:
    SalesChannel.objects.create(name="Direct")
    assert client.post("/mailboxes/new/", {**VALID, "processor_kind": "lead"}).status_code == 302
    mailbox = Mailbox.objects.get()
    SalesChannel.objects.update(active=False)

    page = client.get(f"/mailboxes/{mailbox.pk}/edit/").content.decode()
    assert "Convert to Lead (not converting: no active sales channel)" in _kind_menu(page)
    assert "stored but not converted" in page
    response = client.post(
        f"/mailboxes/{mailbox.pk}/edit/",
        {**VALID, "processor_kind": "lead", "password": "", "label": "Sales"},
    )
    assert response.status_code == 302
    mailbox.refresh_from_db()
    assert mailbox.label == "Sales" and mailbox.processor_kind == "lead"


def test_it_offers_only_active_sources_and_proposes_the_default(client: Client) -> None:
    ensure_default_lead_sources()
    SalesChannel.objects.create(name="Direct")
    LeadSource.objects.filter(name="Partner").update(active=False)
    page = client.get("/mailboxes/new/").content.decode()
    menu = _source_menu(page)
    assert "Partner" not in menu
    assert '<option value="Email" selected>Email</option>' in menu

    response = client.post(
        "/mailboxes/new/", {**VALID, "processor_kind": "lead", "lead-source": "Partner"}
    )
    assert "Select a valid choice" in response.content.decode()
    assert not Mailbox.objects.exists()


def test_a_mailbox_keeps_its_source_once_deactivated(client: Client) -> None:
    ensure_default_lead_sources()
    SalesChannel.objects.create(name="Direct")
    mailbox = save_mailbox(
        MailboxInput(
            label="Support",
            email="support@example.test",
            imap_host="imap.example.test",
            smtp_host="smtp.example.test",
            username="support",
            processor_kind="lead",
            processor_settings={"source": "Partner"},
        ),
        password="pw-1",
    )
    LeadSource.objects.filter(name="Partner").update(active=False)
    page = client.get(f"/mailboxes/{mailbox.pk}/edit/").content.decode()
    assert '<option value="Partner" selected>Partner (inactive)</option>' in _source_menu(page)
    response = client.post(
        f"/mailboxes/{mailbox.pk}/edit/",
        {**VALID, "processor_kind": "lead", "lead-source": "Partner", "password": ""},
    )
    assert response.status_code == 302
    mailbox.refresh_from_db()
    assert mailbox.processor_settings["source"] == "Partner"


def test_it_saves_and_shows_the_case_settings(client: Client) -> None:
    data = {
        **VALID,
        "processor_kind": "case",
        "case-priority": "high",
        "case-closed_case_replies": "new_case",
        "case-automatic_cases": "on",
    }
    assert client.post("/mailboxes/new/", data).status_code == 302
    mailbox = Mailbox.objects.get()
    assert mailbox.processor_settings == {
        "priority": "high",
        "closed_case_replies": "new_case",
        "automatic_cases": True,
    }
    page = client.get(f"/mailboxes/{mailbox.pk}/edit/").content.decode()
    assert '<option value="new_case" selected>' in page
    assert re.search(r"<input[^>]*name=\"case-automatic_cases\"[^>]*checked", page)

    # Saved again without them (the defaults): replies reopen, automatic mail creates nothing.
    client.post(
        f"/mailboxes/{mailbox.pk}/edit/", {**VALID, "processor_kind": "case", "password": ""}
    )
    mailbox.refresh_from_db()
    assert mailbox.processor_settings["closed_case_replies"] == "reopen"
    assert mailbox.processor_settings["automatic_cases"] is False


def test_the_mailbox_page_says_when_leads_are_not_converted(client: Client) -> None:
    channel = SalesChannel.objects.create(name="Direct")
    mailbox = save_mailbox(
        MailboxInput(label="Sales", email="sales@example.test", processor_kind="lead"),
        password="",
    )
    assert 'id="lead-paused"' not in client.get(f"/mailboxes/{mailbox.pk}/").content.decode()
    channel.active = False
    channel.save()
    page = client.get(f"/mailboxes/{mailbox.pk}/").content.decode()
    note = page.split('id="lead-paused"', 1)[1].split("</span>", 1)[0]
    assert "not converting: no active sales channel" in note
    assert 'href="/sales-channels/"' in note


def test_it_saves_the_answer_language_normalised_and_refuses_a_non_language(
    client: Client,
) -> None:
    response = client.post("/mailboxes/new/", {**VALID, "language": "de_de"})
    assert response.status_code == 302
    assert Mailbox.objects.get().language == "de-DE"
    response = client.post(
        "/mailboxes/new/", {**VALID, "label": "Other", "language": "German\r\nBcc: x"}
    )
    assert response.status_code == 200
    assert "A language code such as en, de or pt-BR." in response.content.decode()


def test_it_saves_the_other_addresses_and_refuses_one_that_is_not_an_address(
    client: Client,
) -> None:
    response = client.post(
        "/mailboxes/new/", {**VALID, "aliases": "Help@Example.test\n\nhelp@example.test\n"}
    )
    assert response.status_code == 302
    assert Mailbox.objects.get().aliases == "help@example.test"
    response = client.post(
        "/mailboxes/new/", {**VALID, "label": "Other", "aliases": "help@example.test\nnot one"}
    )
    assert "“not one” is not an email address." in response.content.decode()
