"""The Lead sources and Sales channels pages: administrators manage them, nobody else does."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client

from mailroom.crm.lists import DEFAULT_LEAD_SOURCES, ensure_default_lead_sources
from mailroom.mailboxes.actions import MailboxInput, save_mailbox
from mailroom.models import Lead, LeadSource, SalesChannel

pytestmark = pytest.mark.django_db


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin() -> Client:
    return _client(User.objects.create_user("alice", password="x", is_staff=True))


@pytest.fixture
def member() -> Client:
    return _client(User.objects.create_user("bob", password="x"))


def _names() -> list[str]:
    return list(LeadSource.objects.order_by("position", "name").values_list("name", flat=True))


def _source(name: str) -> LeadSource:
    return LeadSource.objects.get(name=name)


def _act(client: Client, option: str, action: str, **data: str) -> str:
    response = client.post(
        f"/lead-sources/{_source(option).pk}/", {"action": action, **data}, follow=True
    )
    assert response.status_code == 200
    return response.content.decode()


def test_it_creates_the_default_list_on_first_use_once() -> None:
    assert ensure_default_lead_sources() is True
    assert _names() == list(DEFAULT_LEAD_SOURCES)
    assert LeadSource.objects.get(is_default=True).name == "Email"
    assert ensure_default_lead_sources() is False
    assert LeadSource.objects.count() == len(DEFAULT_LEAD_SOURCES)


def test_it_does_not_bring_the_defaults_back_once_mailboxes_exist(admin: Client) -> None:
    save_mailbox(MailboxInput(label="Sales", email="sales@example.test"), password="")
    page = admin.get("/lead-sources/").content.decode()
    assert not LeadSource.objects.exists()
    assert "No lead sources" in page


def test_it_shows_the_default_list_to_an_administrator(admin: Client) -> None:
    page = admin.get("/lead-sources/").content.decode()
    for name in DEFAULT_LEAD_SOURCES:
        assert f'data-source="{name}"' in page
    assert "Default" in page


def test_it_adds_renames_and_reorders_options(admin: Client) -> None:
    ensure_default_lead_sources()
    assert admin.post("/lead-sources/", {"name": "  Trade   fair "}).status_code == 302
    assert _names()[-1] == "Trade fair"

    _act(admin, "Trade fair", "rename", name="Trade show")
    _act(admin, "Trade show", "up")
    assert _names()[-2:] == ["Trade show", "Other"]
    _act(admin, "Email", "down")
    assert _names()[:2] == ["Website", "Email"]
    _act(admin, "Website", "up")  # already first: stays
    assert _names()[0] == "Website"
    page = admin.get("/lead-sources/").content.decode()
    shown = [page.index(f'data-source="{name}"') for name in _names()]
    assert shown == sorted(shown)


def test_it_refuses_a_duplicate_or_empty_name(admin: Client) -> None:
    ensure_default_lead_sources()
    page = admin.post("/lead-sources/", {"name": "email"}).content.decode()
    assert "There is already an option named “email”." in page
    assert admin.post("/lead-sources/", {"name": "   "}).status_code == 400
    page = _act(admin, "Phone", "rename", name="Website")
    assert "was not renamed" in page
    assert _source("Phone")


def test_it_renames_the_source_in_the_mailboxes_that_name_it(admin: Client) -> None:
    ensure_default_lead_sources()
    mailbox = save_mailbox(
        MailboxInput(
            label="Sales",
            email="sales@example.test",
            processor_kind="lead",
            processor_settings={"source": "Partner", "owner": "alice"},
        ),
        password="",
    )
    _act(admin, "Partner", "rename", name="Partners")
    mailbox.refresh_from_db()
    assert mailbox.processor_settings == {"source": "Partners", "owner": "alice"}


def test_it_sets_one_default_and_never_an_inactive_one(admin: Client) -> None:
    ensure_default_lead_sources()
    _act(admin, "Website", "default")
    assert list(LeadSource.objects.filter(is_default=True)) == [_source("Website")]

    _act(admin, "Website", "deactivate")
    assert not LeadSource.objects.filter(is_default=True).exists()
    page = _act(admin, "Website", "default")
    assert "is inactive: reactivate it first" in page
    assert not LeadSource.objects.filter(is_default=True).exists()
    _act(admin, "Website", "reactivate")
    assert _source("Website").active


def test_it_deletes_an_unused_option(admin: Client) -> None:
    ensure_default_lead_sources()
    page = _act(admin, "Other", "delete")
    assert "Lead source “Other” deleted." in page
    assert "Other" not in _names()


def test_it_only_deactivates_an_option_in_use_and_says_so_at_the_button(admin: Client) -> None:
    ensure_default_lead_sources()
    Lead.objects.create(name="Ann", source=_source("Referral"))
    save_mailbox(
        MailboxInput(
            label="Sales",
            email="sales@example.test",
            processor_kind="lead",
            processor_settings={"source": "Phone"},
        ),
        password="",
    )
    page = admin.get("/lead-sources/").content.decode()
    row = page.split('data-source="Referral"', 1)[1].split("</tr>", 1)[0]
    assert "1 lead" in row and "disabled" in row
    assert "In use: cannot be deleted, only deactivated." in row
    row = page.split('data-source="Phone"', 1)[1].split("</tr>", 1)[0]
    assert "Sales" in row and "only deactivated" in row

    page = _act(admin, "Referral", "delete")
    assert "“Referral” is in use (1 lead): it cannot be deleted, only deactivated." in page
    page = _act(admin, "Phone", "delete")
    assert "is in use (mailbox “Sales”)" in page
    assert {"Referral", "Phone"} <= set(_names())

    _act(admin, "Referral", "deactivate")
    assert not _source("Referral").active
    assert Lead.objects.get().source == _source("Referral")


def test_it_adds_activates_and_deactivates_sales_channels(admin: Client) -> None:
    page = admin.get("/sales-channels/").content.decode()
    assert "No sales channels yet" in page
    assert admin.post("/sales-channels/", {"name": "Direct"}).status_code == 302
    channel = SalesChannel.objects.get()
    assert channel.active

    admin.post(f"/sales-channels/{channel.pk}/", {"action": "deactivate"})
    channel.refresh_from_db()
    assert not channel.active
    admin.post(f"/sales-channels/{channel.pk}/", {"action": "activate"})
    channel.refresh_from_db()
    assert channel.active
    assert (
        "already an option" in admin.post("/sales-channels/", {"name": "direct"}).content.decode()
    )


def test_it_refuses_an_unknown_action(admin: Client) -> None:
    ensure_default_lead_sources()
    assert admin.post(f"/lead-sources/{_source('Email').pk}/", {"action": "x"}).status_code == 400
    channel = SalesChannel.objects.create(name="Direct")
    assert admin.post(f"/sales-channels/{channel.pk}/", {"action": "x"}).status_code == 400


def test_it_lets_no_one_else_manage_the_lists(member: Client) -> None:
    ensure_default_lead_sources()
    channel = SalesChannel.objects.create(name="Direct")
    email = _source("Email")
    assert member.get("/lead-sources/").status_code == 404
    assert member.post("/lead-sources/", {"name": "Sneaky"}).status_code == 404
    assert member.post(f"/lead-sources/{email.pk}/", {"action": "delete"}).status_code == 404
    assert member.get("/sales-channels/").status_code == 404
    assert (
        member.post(f"/sales-channels/{channel.pk}/", {"action": "deactivate"}).status_code == 404
    )
    assert "Sneaky" not in _names() and "Email" in _names()
    assert SalesChannel.objects.get().active
    # Nor do they see the links.
    page = member.get("/").content.decode()
    assert "/lead-sources/" not in page and "/sales-channels/" not in page


def test_it_links_the_lists_in_the_header_for_administrators(admin: Client) -> None:
    page = admin.get("/").content.decode()
    assert 'href="/lead-sources/"' in page and 'href="/sales-channels/"' in page


@pytest.mark.parametrize("url", ["/lead-sources/", "/sales-channels/"])
def test_it_sends_anonymous_visitors_to_the_login_page(url: str) -> None:
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_enter_in_a_name_renames_rather_than_moves(admin: Client) -> None:
    # A browser submits a form by Enter with its first submit button in document order: for
    # each source's form that must be Rename, not "Move up" or "Make default".
    page = admin.get("/lead-sources/").content.decode()
    forms = re.findall(r'<form id="(source-\d+)"', page)
    assert forms
    for form in forms:
        buttons = re.findall(
            rf'<form id="{form}"[^>]*>.*?</form>|<button[^>]*form="{form}"[^>]*>', page, re.S
        )
        first = re.search(r'<button[^>]*value="(\w+)"', buttons[0])
        assert first is not None and first.group(1) == "rename", form
