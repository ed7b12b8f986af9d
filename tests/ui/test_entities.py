"""The Sales-channel rule, the managed lists and the record pages in a real browser against
``mailroom run``.

With no active Sales channel the mailbox form has no "Convert to Lead" option and says where
to activate one; once one is added there, the option appears. Mail a customer sends to two
mailboxes becomes a Case and a Lead, and her autoresponder's reply joins the Case's
conversation and marks it; her Contact page gathers both.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from playwright.sync_api import Page, expect

from tests.servers.dovecot import DovecotServer
from tests.servers.fixtures import ImapAccount
from tests.servers.smtp import SmtpSink
from tests.ui.conftest import ADMIN_EMAIL, MailroomServer
from tests.ui.test_mailbox_screens import (
    _check_connection,
    _fill_connection,
    _log_in,
    _screenshot,
    _synced_status,
)


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


ANN_EMAIL = "ann.weber@kunde.test"
ANN = f"Ann Weber <{ANN_EMAIL}>"


def _mail(
    sender: str, to: str, subject: str, msg_id: str, minutes_ago: int, *extra: str, body: str
) -> bytes:
    """A message as Ann's mail program (or her autoresponder) sends it; she writes German."""
    date = format_datetime(datetime.now(UTC) - timedelta(minutes=minutes_ago))
    headers = [
        # What the receiving MTA adds; an autoresponder sends with a null Return-Path.
        "Return-Path: <>"
        if "Auto-Submitted: auto-replied" in extra
        else f"Return-Path: <{ANN_EMAIL}>",
        f"From: {sender}",
        f"To: {to}",
        f"Subject: {subject}",
        f"Date: {date}",
        f"Message-ID: <{msg_id}>",
        "Content-Language: de",
        "Content-Type: text/plain; charset=utf-8",
        *extra,
    ]
    return ("\r\n".join(headers) + "\r\n\r\n" + body.replace("\n", "\r\n")).encode()


PRINTER = _mail(
    ANN,
    "support@example.test",
    "Printer on floor 3 prints blank pages",
    "printer-1@kunde.test",
    90,
    body="Hello,\n\nsince this morning the printer on floor 3 prints only blank pages.\n"
    "The toner is new.\n\nAnn Weber\nAccounts, Kunde GmbH",
)
AWAY = _mail(
    ANN,
    "support@example.test",
    "Automatic reply: Re: Printer on floor 3 prints blank pages",
    "away-7@kunde.test",
    20,
    "In-Reply-To: <reply-1@example.test>",
    "References: <printer-1@kunde.test> <reply-1@example.test>",
    "Auto-Submitted: auto-replied",
    body="I am out of the office until Monday and read no mail.\n"
    "For urgent matters please call +49 30 1234 567.",
)
QUOTE = _mail(
    ANN,
    "sales@example.test",
    "Quote for 40 toner cartridges",
    "toner-1@kunde.test",
    60,
    body="Hello,\n\ncould you send us a quote for 40 black toner cartridges (model TN-2420)?"
    "\n\nAnn Weber",
)


def _reload_until(page: Page, text: str, timeout: float = 30.0) -> None:
    """Reload the page until it shows ``text`` (the watcher syncs every 2 s)."""
    deadline = time.monotonic() + timeout
    while text not in page.locator("main").inner_text() and time.monotonic() < deadline:
        time.sleep(0.5)
        page.reload()
    expect(page.locator("main")).to_contain_text(text)


def _add_mailbox(
    page: Page, server: MailroomServer, account: ImapAccount, smtp: SmtpSink, **form: str
) -> None:
    """Add a mailbox syncing INBOX, and wait for its first sync (before any mail arrives)."""
    page.goto(f"{server.base_url}/mailboxes/new/")
    page.get_by_label("Label").fill(form["label"])
    page.get_by_label("Email", exact=True).fill(form["email"])
    _fill_connection(page, account, smtp, password=account.password)
    _check_connection(page)
    expect(page.locator("ul.messages")).to_contain_text("Connection works")
    page.locator("#field-folders").get_by_label("INBOX", exact=True).check()
    page.get_by_label("Email processing").select_option(label=form["processing"])
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Save mailbox").click()
    expect(page.get_by_role("heading", name=form["label"])).to_be_visible()
    assert _synced_status(page) == "Working", server.log()


def test_a_case_shows_its_conversation_its_marks_and_its_contact(
    mailroom_server: MailroomServer,
    page: Page,
    imap_account: ImapAccount,
    smtp_server: SmtpSink,
    dovecot: DovecotServer,
) -> None:
    server = mailroom_server
    _log_in(page, server)
    page.goto(f"{server.base_url}/sales-channels/")
    page.get_by_label("Name").fill("Direct sales")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator('tr[data-channel="Direct sales"]')).to_contain_text("Active")

    # Support makes Cases; Sales, on an account of its own, makes Leads.
    _add_mailbox(
        page,
        server,
        imap_account,
        smtp_server,
        label="Support",
        email="support@example.test",
        processing="Convert to Case",
    )
    sales_account = ImapAccount(
        dovecot.host,
        dovecot.port,
        f"sales-{secrets.token_hex(4)}@example.test",
        "pw-sales-9Zk",
        dovecot,
    )
    dovecot.add_user(sales_account.username, sales_account.password)
    with SmtpSink(
        username=sales_account.username, password=sales_account.password, auth_required=True
    ) as sales_smtp:
        _add_mailbox(
            page,
            server,
            sales_account,
            sales_smtp,
            label="Sales",
            email="sales@example.test",
            processing="Convert to Lead",
        )

    # Ann writes to Support and to Sales; her autoresponder answers the agent's reply.
    imap_account.append("INBOX", PRINTER)
    sales_account.append("INBOX", QUOTE)
    page.goto(f"{server.base_url}/cases/")
    _reload_until(page, "Printer on floor 3 prints blank pages")
    imap_account.append("INBOX", AWAY)
    _reload_until(page, "out of office")
    row = page.locator("#cases tbody tr", has_text="Printer on floor 3")
    expect(row.locator(".badge.mark")).to_have_text("out of office")
    expect(row.get_by_role("link", name="Ann Weber")).to_be_visible()

    # The Case page: the conversation of two messages, its mark, a change of status.
    row.get_by_role("link", name="Printer on floor 3 prints blank pages").click()
    thread = page.locator("#thread")
    expect(thread.locator("h2")).to_contain_text("Conversation (2 messages)")
    expect(thread.locator("h2 .badge.mark")).to_have_text("out of office")
    page.get_by_label("Status").select_option(label="In progress")
    page.get_by_label("Assignee").select_option(label=ADMIN_EMAIL)
    page.get_by_role("button", name="Save").click()
    expect(page.locator("ul.messages")).to_contain_text("Saved: status Open → In progress")
    expect(page.locator("#changes tbody tr")).to_have_count(2)
    expect(page.locator("#contact")).to_contain_text("Ann Weber <ann.weber@kunde.test>")
    _screenshot(page, "case-detail.png")

    # The Lead page, from the list.
    page.get_by_role("link", name="Leads", exact=True).click()
    _reload_until(page, "Ann Weber")
    page.locator("#leads tbody tr").first.get_by_role("link", name="Ann Weber").click()
    expect(page.locator("#fields")).to_contain_text("Quote for 40 toner cartridges")
    expect(page.locator("#fields")).to_contain_text("Direct sales")
    _screenshot(page, "lead-detail.png")

    # The Contact page, from the Lead's contact: both mailboxes' records and her language.
    page.locator("#contact").get_by_role("link").click()
    expect(page.get_by_role("heading", name="Contact: Ann Weber")).to_be_visible()
    expect(page.locator("#language")).to_have_text("de")
    expect(page.locator("#leads tbody tr")).to_have_count(1)
    expect(page.locator("#cases tbody tr")).to_contain_text("In progress")
    expect(page.locator("#conversations tbody tr")).to_have_count(2)
    expect(page.locator("#conversations .badge.mark")).to_have_text("out of office")
    expect(page.locator("#messages tbody tr")).to_have_count(3)
    _screenshot(page, "contact-detail.png")

    assert server.interrupt() == 0, server.log()
