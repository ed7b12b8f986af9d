"""The Sales-channel rule and the managed lists in a real browser against ``mailroom run``.

With no active Sales channel the mailbox form has no "Convert to Lead" option and says where
to activate one; once one is added there, the option appears.
"""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.ui.conftest import MailroomServer
from tests.ui.test_mailbox_screens import _log_in, _screenshot


def test_convert_to_lead_appears_once_a_sales_channel_is_active(
    mailroom_server: MailroomServer, page: Page
) -> None:
    server = mailroom_server
    _log_in(page, server)

    page.get_by_role("link", name="Add mailbox").first.click()
    processing = page.get_by_label("Email processing")
    expect(processing.locator("option")).to_have_text(
        ["Do nothing (keep in mailbox)", "Convert to Case"]
    )
    note = page.locator("#no-sales-channel")
    expect(note).to_contain_text("“Convert to Lead” needs an active sales channel")

    note.get_by_role("link", name="Activate one under Sales channels").click()
    expect(page).to_have_url(f"{server.base_url}/sales-channels/")
    expect(page.locator("#sales-channels")).to_contain_text("No sales channels yet")
    page.get_by_label("Name").fill("Direct sales")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator("ul.messages")).to_contain_text("Sales channel “Direct sales” added")
    expect(page.locator('tr[data-channel="Direct sales"]')).to_contain_text("Active")
    _screenshot(page, "sales-channels.png")

    page.goto(f"{server.base_url}/mailboxes/new/")
    expect(processing.locator("option")).to_have_text(
        ["Do nothing (keep in mailbox)", "Convert to Lead", "Convert to Case"]
    )
    expect(page.locator("#no-sales-channel")).to_have_count(0)
    processing.select_option(label="Convert to Lead")
    # The first start created the default Lead Source options; Email is proposed.
    expect(page.get_by_label("Lead source")).to_have_value("Email")

    # Deactivated again, the option is gone.
    page.goto(f"{server.base_url}/sales-channels/")
    page.get_by_role("button", name="Deactivate Direct sales").click()
    expect(page.locator('tr[data-channel="Direct sales"]')).to_contain_text("Inactive")
    page.goto(f"{server.base_url}/mailboxes/new/")
    expect(processing.locator("option", has_text="Convert to Lead")).to_have_count(0)
    expect(page.locator("#no-sales-channel")).to_be_visible()

    page.get_by_role("link", name="Lead sources").click()
    rows = page.locator("#lead-sources tbody tr")
    expect(rows).to_have_count(6)
    expect(rows.first).to_contain_text("Default")
    page.locator('tr[data-source="Other"]').get_by_role("button", name="Deactivate").click()
    expect(page.locator('tr[data-source="Other"]')).to_contain_text("Inactive")
    expect(
        page.locator('tr[data-source="Other"]').get_by_role("button", name="Reactivate")
    ).to_be_visible()
    _screenshot(page, "lead-sources.png")

    assert server.interrupt() == 0, server.log()
