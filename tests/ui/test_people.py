"""People in Chromium against the real ``mailroom run``: an administrator makes a role that
reads one mailbox and a user in it, picking from searchable multi-selects; the user logs in
with the password shown once and sees only that mailbox."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.ui.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, MailroomServer


def _mailbox(label: str, email: str) -> dict[str, object]:
    return {
        "label": label,
        "email": email,
        # No server: the test is about who sees the mailbox, not its mail.
        "imap": {"enabled": False, "host": "", "port": 993, "encryption": "ssl"},
        "smtp": {"enabled": False, "host": "", "port": 465, "encryption": "ssl"},
        "processor": {"kind": "none", "settings": {}},
    }


def _log_in(page: Page, server: MailroomServer, email: str, password: str) -> None:
    page.goto(f"{server.base_url}/login/")
    page.get_by_label("Email or user name").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="System mailboxes")).to_be_visible()


def _no_horizontal_scroll(page: Page) -> bool:
    return bool(page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth"))


def test_a_user_made_in_people_sees_only_the_mailbox_of_their_role(
    mailroom_server: MailroomServer, page: Page, browser: Browser, tmp_path: Path
) -> None:
    server = mailroom_server
    config = tmp_path / "mailboxes.json"
    config.write_text(
        json.dumps(
            {
                "format": "mailroom-config",
                "version": 1,
                "mailboxes": [
                    _mailbox("Support", "support@example.test"),
                    _mailbox("Sales", "sales@example.test"),
                    _mailbox("Billing", "billing@example.test"),
                ],
            }
        )
    )
    server.cli("config", "import", str(config))
    _log_in(page, server, ADMIN_EMAIL, ADMIN_PASSWORD)

    # A role reading Support, its mailbox picked from the searchable list.
    page.get_by_role("link", name="People").click()
    expect(page.get_by_role("heading", name="People")).to_be_visible()
    page.get_by_role("link", name="Roles").click()
    page.get_by_label("Name").fill("Support agents")
    mailboxes = page.get_by_role("group", name="Mailboxes they may read")
    expect(mailboxes.get_by_role("checkbox")).to_have_count(3)
    page.get_by_role("searchbox", name="Mailboxes they may read").fill("supp")
    expect(mailboxes.get_by_label("Support")).to_be_visible()
    expect(mailboxes.get_by_label("Sales")).to_be_hidden()
    expect(mailboxes.get_by_label("Billing")).to_be_hidden()
    expect(page.locator("#id_mailboxes-filter ~ .multiselect-status")).to_have_text(
        "1 of 3 shown · 0 selected"
    )
    # Enter in the filter box does not submit the form; Space ticks the focused option.
    page.get_by_role("searchbox", name="Mailboxes they may read").press("Enter")
    page.get_by_role("searchbox", name="Mailboxes they may read").press("ArrowDown")
    page.keyboard.press("Space")
    expect(mailboxes.get_by_label("Support")).to_be_checked()
    page.get_by_role("button", name="Add role").click()
    expect(page.get_by_text("Role “Support agents” created.")).to_be_visible()
    expect(page.locator('tr[data-role="Support agents"] td[data-label="Mailboxes"]')).to_have_text(
        "1"
    )

    # A user in that role, with a generated password shown once.
    page.get_by_role("link", name="People").first.click()
    page.get_by_role("link", name="Add person").click()
    page.get_by_label("Name").fill("Dora Agent")
    page.get_by_label("Email").fill("dora@example.test")
    page.get_by_role("searchbox", name="Roles").fill("agents")
    page.get_by_role("group", name="Roles").get_by_label("Support agents").check()
    page.get_by_label("Generate a password, shown once, to pass on").check()
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_text("It is shown only this once")).to_be_visible()
    password = page.locator("#password").inner_text().strip()
    assert len(password) >= 12

    page.get_by_role("link", name="People").first.click()
    row = page.locator('tr[data-person="dora@example.test"]')
    expect(row.locator('td[data-label="Roles"]')).to_have_text("Support agents")
    expect(row.locator('td[data-label="Last login"]')).to_have_text("never")

    # Dora logs in and reads Support only; People does not exist for her.
    context = browser.new_context(viewport={"width": 390, "height": 800})
    context.set_default_timeout(10_000)
    try:
        dora = context.new_page()
        _log_in(dora, server, "dora@example.test", password)
        table = dora.locator("#mailboxes")
        expect(table.get_by_text("Support", exact=True)).to_be_visible()
        expect(table.get_by_text("Sales", exact=True)).to_have_count(0)
        expect(table.get_by_text("Billing", exact=True)).to_have_count(0)
        expect(dora.get_by_role("link", name="People")).to_have_count(0)
        response = dora.goto(f"{server.base_url}/people/")
        assert response is not None and response.status == 404
    finally:
        context.close()

    # The People list is usable on a phone: no sideways scrolling, one person per block.
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"{server.base_url}/people/")
    assert _no_horizontal_scroll(page)
    row = page.locator('tr[data-person="dora@example.test"]')
    name_box = row.locator("td.title").bounding_box()
    email_box = row.locator('td[data-label="Email"]').bounding_box()
    assert name_box and email_box and email_box["y"] > name_box["y"]  # stacked, not side by side
    expect(
        page.locator('tr[data-person="dora@example.test"] td[data-label="Last login"]')
    ).not_to_have_text("never")
    page.goto(f"{server.base_url}/people/roles/")
    assert _no_horizontal_scroll(page)

    # Without script the pickers are plain multiple selects, and work as such.
    plain = browser.new_context(java_script_enabled=False)
    plain.set_default_timeout(10_000)
    try:
        admin = plain.new_page()
        _log_in(admin, server, ADMIN_EMAIL, ADMIN_PASSWORD)
        admin.goto(f"{server.base_url}/people/roles/")
        admin.get_by_role("link", name="Support agents").click()
        expect(admin.get_by_role("searchbox")).to_have_count(0)
        admin.get_by_label("Mailboxes they may read").select_option(
            label=["Support <support@example.test>", "Billing <billing@example.test>"]
        )
        admin.get_by_role("button", name="Save").click()
        cell = admin.locator('tr[data-role="Support agents"] td[data-label="Mailboxes"]')
        expect(cell).to_have_text("2")
    finally:
        plain.close()

    assert server.interrupt() == 0
