"""Replying from the mailbox in Chromium against ``mailroom run``: open a message, Reply, write
with the editor, send, and see the reply listed as sent (and copied to Sent) within seconds,
on a laptop and on a phone."""

from __future__ import annotations

import time
from email import message_from_bytes, policy

from playwright.sync_api import Page, expect

from tests.servers.fixtures import ImapAccount
from tests.servers.smtp import SmtpSink
from tests.ui.conftest import MailroomServer
from tests.ui.test_entities import _add_mailbox, _reload_until
from tests.ui.test_mailbox_screens import _log_in, _screenshot

QUESTION = (
    b"Return-Path: <ann.weber@kunde.test>\r\n"
    b"From: Ann Weber <ann.weber@kunde.test>\r\n"
    b"To: support@example.test\r\n"
    b"Subject: Scanner saves empty PDFs\r\n"
    b"Message-ID: <scan-1@kunde.test>\r\n"
    b"Date: Wed, 02 Dec 2026 09:00:00 +0000\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Hello,\r\nour scanner saves empty PDF files since yesterday.\r\n\r\nAnn\r\n"
)


def _reply_state(page: Page, text: str, timeout: float = 20.0) -> None:
    """Reload the reply page until the reply's line says ``text`` (the send worker runs in
    the background)."""
    deadline = time.monotonic() + timeout
    item = page.locator("#replies .reply-item").first
    while text not in item.inner_text() and time.monotonic() < deadline:
        time.sleep(0.3)
        page.reload()
    expect(item).to_contain_text(text)


def test_a_reply_written_in_the_browser_is_sent_and_listed(
    mailroom_server: MailroomServer,
    page: Page,
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
        processing="Convert to Case",
    )
    imap_account.append("INBOX", QUESTION)
    _reload_until(page, "Scanner saves empty PDFs")
    page.get_by_role("link", name="Scanner saves empty PDFs").first.click()
    page.get_by_role("link", name="Reply", exact=True).click()

    expect(page.get_by_role("heading", name="Reply from Support")).to_be_visible()
    expect(page.get_by_label("To", exact=True)).to_have_value("ann.weber@kunde.test")
    expect(page.get_by_label("Subject")).to_have_value("Re: Scanner saves empty PDFs")
    expect(page.locator("#reply-quote")).to_contain_text("Ann Weber <ann.weber@kunde.test> wrote:")
    expect(page.locator("#reply-quote")).to_contain_text("> our scanner saves empty PDF files")

    # Write with the editor: a line, then a bold word.
    page.get_by_role("button", name="Formatted").click()
    editor = page.get_by_role("textbox", name="Message (formatted)")
    expect(editor).to_be_visible()
    editor.click()
    page.keyboard.type("Hello Ann, please update the scanner driver to ")
    page.get_by_role("button", name="Bold").click()
    page.keyboard.type("version 4.2")
    page.get_by_role("button", name="Bold").click()
    page.keyboard.type(".")
    _screenshot(page, "reply.png")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("ul.messages")).to_contain_text("Reply to ann.weber@kunde.test queued")

    # Sent by the mailbox's SMTP server within seconds, threaded, with the bold word.
    [mail] = smtp_server.wait_for(1, timeout=15)
    sent = message_from_bytes(mail.data, policy=policy.default)
    assert sent["In-Reply-To"] == "<scan-1@kunde.test>"
    html = sent.get_body(("html",))
    assert html is not None and "<b>version 4.2</b>" in html.get_content()

    page.goto(page.url.rstrip("/") + "/reply/")
    _reply_state(page, "In Sent")
    item = page.locator("#replies .reply-item").first
    expect(item).to_contain_text("Re: Scanner saves empty PDFs")
    expect(item).to_contain_text("by admin@example.test")
    expect(item.locator(".badge.ok").first).to_have_text("Sent")

    # A phone: the form fits 390 px without sideways scrolling.
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    _screenshot(page, "reply-390.png")

    assert server.interrupt() == 0, server.log()
