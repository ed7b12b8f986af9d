"""The message list in Chromium against ``mailroom run``, at 1280 and 390 px wide: nothing
scrolls sideways, unread mail is bold, search and the keyset pages work, rows can be marked
read from the keyboard."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from playwright.sync_api import Browser, Page, expect

from tests.servers.fixtures import ImapAccount
from tests.servers.smtp import SmtpSink
from tests.ui.conftest import MailroomServer
from tests.ui.test_entities import _add_mailbox
from tests.ui.test_mailbox_screens import _log_in

NEWEST = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
COUNT = 61
NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"


def _mail(number: int) -> bytes:
    subject = (
        "Printer on floor 3 prints blank pages"
        if number == 7
        else f"Order {1000 + number}: delivery date for a rather long subject line"
    )
    body = (
        "The toner is new, still nothing on the page."
        if number == 7
        else f"Hello, when will order {1000 + number} arrive? Regards"
    )
    lines = [
        "Return-Path: <customer@kunde.test>",
        "From: Kundin Ännchen Weber-Schmidt <a.very.long.address.of.a.customer@kunde-gmbh.test>",
        "To: support@example.test",
        f"Subject: {subject}",
        f"Date: {format_datetime(NEWEST - timedelta(minutes=COUNT - number))}",
        f"Message-ID: <list-{number}@kunde.test>",
        "Content-Type: text/plain; charset=utf-8",
        "",
        body,
        "",
    ]
    return "\r\n".join(lines).encode()


def _reload_until_synced(page: Page, timeout: float = 60.0) -> None:
    """Reload the list until the last of the mail appended is in (the watcher syncs)."""
    newest = f"Order {1000 + COUNT}"
    deadline = time.monotonic() + timeout
    while newest not in page.locator("#mail-list").inner_text() and time.monotonic() < deadline:
        time.sleep(0.5)
        page.reload()
    expect(page.locator("#mail-list .mail-row").first).to_contain_text(newest)


def _no_sideways_scroll(page: Page) -> None:
    assert page.evaluate(NO_SIDEWAYS_SCROLL), page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )


def _search_and_page(page: Page) -> None:
    """Messages view: a full page, the older rest, back again; a search; clearing it."""
    page.get_by_role("link", name="Messages", exact=True).click()
    rows = page.locator("#mail-list .mail-row")
    expect(rows).to_have_count(50)
    expect(rows.first).to_contain_text("Order 1061")
    _no_sideways_scroll(page)
    page.get_by_role("link", name="Older →").click()
    expect(rows).to_have_count(COUNT - 50)
    expect(rows.last).to_contain_text("Order 1001")
    expect(page.get_by_role("link", name="Older →")).to_have_count(0)
    _no_sideways_scroll(page)
    page.get_by_role("link", name="← Newer").click()
    expect(rows).to_have_count(50)
    expect(rows.first).to_contain_text("Order 1061")

    search = page.get_by_role("searchbox", name="Search subject, sender and text")
    search.fill('toner "new')
    search.press("Enter")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Printer on floor 3 prints blank pages")
    _no_sideways_scroll(page)
    search.fill("NEAR(")
    search.press("Enter")
    expect(page.locator("#mail-empty")).to_contain_text("No mail matches.")
    page.get_by_role("link", name="Clear").click()
    expect(rows).to_have_count(50)


def test_the_message_list_on_a_laptop_and_a_phone(
    mailroom_server: MailroomServer,
    page: Page,
    browser: Browser,
    imap_account: ImapAccount,
    smtp_server: SmtpSink,
) -> None:
    server = mailroom_server
    _log_in(page, server)
    _add_mailbox(
        page,
        server,
        imap_account,
        smtp_server,
        label="Support",
        email="support@example.test",
        processing="Do nothing (keep in mailbox)",
    )
    for number in range(1, COUNT + 1):
        imap_account.append("INBOX", _mail(number))

    # From the mailbox page to the list: conversations, newest first, all unread (bold).
    page.get_by_role("link", name="All mail →").click()
    _reload_until_synced(page)
    list_url = page.url
    rows = page.locator("#mail-list .mail-row")
    expect(rows).to_have_count(50)
    expect(rows.first).to_have_class("mail-row unread")
    weight = rows.first.locator(".mail-subject").evaluate("e => getComputedStyle(e).fontWeight")
    assert int(weight) >= 700
    _no_sideways_scroll(page)
    _search_and_page(page)

    # Keyboard only: tick the newest row and press "Mark read"; it is no longer bold.
    page.get_by_role("checkbox", name="Select “Order 1061: delivery date").focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name="Mark read").focus()
    page.keyboard.press("Enter")
    expect(page.locator("ul.messages")).to_contain_text("1 message marked read.")
    expect(rows.first).to_have_class("mail-row")
    normal = rows.first.locator(".mail-subject").evaluate("e => getComputedStyle(e).fontWeight")
    assert int(normal) < 700

    # A phone: the same list, rows stacked, nothing wider than the screen.
    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, storage_state=page.context.storage_state()
    )
    try:
        small = phone.new_page()
        small.set_default_timeout(10_000)
        small.goto(list_url)
        small_rows = small.locator("#mail-list .mail-row")
        expect(small_rows).to_have_count(50)
        _no_sideways_scroll(small)
        box = small_rows.first.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
        subject = small_rows.first.locator(".mail-subject").bounding_box()
        sender = small_rows.first.locator(".mail-from").bounding_box()
        assert subject is not None and sender is not None
        # Stacked: the subject sits under the sender, not beside it.
        assert subject["y"] >= sender["y"] + sender["height"] - 1
        _search_and_page(small)

        # The filters open within the screen; "Unread only" leaves the 60 still unread.
        small.locator("#mail-filters summary").click()
        _no_sideways_scroll(small)
        small.get_by_label("Unread only").check()
        small.get_by_label("Folder").select_option(label="INBOX")
        small.get_by_role("button", name="Apply").click()
        expect(small_rows).to_have_count(50)
        expect(small.locator("#mail-list")).not_to_contain_text("Order 1061")
        _no_sideways_scroll(small)
    finally:
        phone.close()

    assert server.interrupt() == 0, server.log()
