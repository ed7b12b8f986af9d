"""The mailbox screens in a real browser against the real ``mailroom run`` server.

Chromium logs in, adds a system mailbox connected to the test Dovecot and SMTP sink with
"Check connection / Retrieve folders", and gets bad input reported at its field. The
screenshots in docs/screenshots/ are written by these tests.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.servers.fixtures import ImapAccount
from tests.servers.smtp import SmtpSink
from tests.ui.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, MailroomServer, free_port
from tests.ui.slow_proxy import SlowProxy

# The screenshots in docs/ are refreshed on request (MAILROOM_UPDATE_SCREENSHOTS=1), so an
# ordinary test run leaves the work tree clean; otherwise they go to a throwaway folder.
SCREENSHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("MAILROOM_UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "mailroom-screenshots"
)
NOT_SYNCED = "Not synced yet"


def _screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


STYLESHEET_LOADED = """[...document.styleSheets].some(
    (s) => s.href && s.href.endsWith("/mailroom.css") && s.cssRules.length > 0)"""


def _log_in(page: Page, server: MailroomServer) -> None:
    page.goto(f"{server.base_url}/login/")
    # Served from the very first start of a new data directory (collectstatic runs first).
    assert page.evaluate(STYLESHEET_LOADED), server.log()
    page.get_by_label("Email or user name").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{server.base_url}/")
    expect(page.get_by_role("heading", name="System mailboxes")).to_be_visible()


def _fill_connection(
    page: Page, imap_account: ImapAccount, smtp_server: SmtpSink, *, password: str
) -> None:
    page.get_by_label("IMAP host").fill("127.0.0.1")
    page.get_by_label("IMAP port").fill(str(imap_account.port))
    page.get_by_label("IMAP encryption").select_option(label="None (plain text)")
    page.get_by_label("SMTP host").fill(smtp_server.host)
    page.get_by_label("SMTP port").fill(str(smtp_server.port))
    page.get_by_label("SMTP encryption").select_option(label="None (plain text)")
    page.get_by_label("Username").fill(imap_account.username)
    page.get_by_label("Password").fill(password)


def _fill_new_mailbox(page: Page, imap_account: ImapAccount, smtp_server: SmtpSink) -> None:
    page.get_by_role("link", name="Add mailbox").first.click()
    expect(page.get_by_role("heading", name="Add mailbox")).to_be_visible()
    page.get_by_label("Label").fill("Support")
    page.get_by_label("Email", exact=True).fill("support@example.test")
    _fill_connection(page, imap_account, smtp_server, password=imap_account.password)


def _check_connection(page: Page) -> None:
    page.get_by_role("button", name="Check connection / Retrieve folders").click()
    page.wait_for_load_state()


def _synced_status(page: Page, timeout: float = 20.0) -> str:
    """Reload the mailbox page until the watcher (every 2 s) has tried it; its status badge."""
    badge = page.locator("h1 .badge")
    deadline = time.monotonic() + timeout
    while badge.inner_text() == NOT_SYNCED and time.monotonic() < deadline:
        time.sleep(0.5)
        page.reload()
    return badge.inner_text()


def _mailbox_rows(page: Page, server: MailroomServer) -> list[str]:
    page.goto(f"{server.base_url}/")
    return [
        " ".join(text.split()) for text in page.locator("#mailboxes tbody tr").all_inner_texts()
    ]


def test_it_adds_a_mailbox_after_checking_its_connection_and_syncs_it(
    mailroom_server: MailroomServer,
    page: Page,
    imap_account: ImapAccount,
    smtp_server: SmtpSink,
) -> None:
    server = mailroom_server
    imap_account.create_folder("Archive")
    secret = imap_account.password

    _log_in(page, server)
    expect(page.locator("#mailboxes")).to_contain_text("No system mailboxes yet")
    _screenshot(page, "mailbox-list-empty.png")

    _fill_new_mailbox(page, imap_account, smtp_server)
    _check_connection(page)

    expect(page.locator("ul.messages")).to_contain_text("Connection works")
    folders = page.locator("#field-folders")
    expect(folders.get_by_label("INBOX", exact=True)).to_be_visible()
    expect(folders.get_by_label("Archive", exact=True)).to_be_visible()
    expect(page.locator(".field .error")).to_have_count(0)
    assert secret not in page.content()
    # What was typed before the check is still there, except the password.
    expect(page.get_by_label("Label")).to_have_value("Support")
    expect(page.get_by_label("IMAP port")).to_have_value(str(imap_account.port))
    expect(page.get_by_label("Username")).to_have_value(imap_account.username)
    page.get_by_label("Email processing").select_option(label="Convert to Case")
    folders.get_by_label("INBOX", exact=True).check()
    _screenshot(page, "mailbox-form.png")

    # The page never echoes the password: the field is empty, and a note says the checked
    # one is kept. Typing it again must work just as well.
    expect(page.locator("#password-kept")).to_be_visible()
    page.get_by_label("Password").fill(secret)
    page.get_by_role("button", name="Save mailbox").click()

    expect(page.get_by_role("heading", name="Support")).to_be_visible()
    expect(page.locator("ul.messages")).to_contain_text("Mailbox “Support” saved.")
    about = page.locator("#about")
    expect(about).to_contain_text("support@example.test")
    expect(about).to_contain_text("Convert to Case")
    expect(page.locator("#folders")).to_contain_text("INBOX")
    expect(page.locator("#folders")).not_to_contain_text("Archive")
    assert secret not in page.content()

    # Saving asked for a sync at once; it logs in with the saved password and syncs INBOX.
    assert _synced_status(page) == "Working"
    expect(page.locator("#health")).not_to_contain_text("never")
    expect(page.locator("#folders")).to_contain_text("up to date")
    assert secret not in page.content()
    _screenshot(page, "mailbox-detail.png")

    rows = _mailbox_rows(page, server)
    assert len(rows) == 1
    for text in (
        "Support",
        "support@example.test",
        f"127.0.0.1:{imap_account.port}",
        "Convert to Case",
        "Working",
    ):
        assert text in rows[0]
    assert secret not in page.content()
    _screenshot(page, "mailbox-list.png")

    # The same state as the command line reads it from the server's own database.
    (line,) = server.cli("mailbox", "list").splitlines()
    assert line.split("\t")[1:] == [
        "Support",
        "support@example.test",
        f"127.0.0.1:{imap_account.port}",
        "case",
        "ok",
        "INBOX",
    ]

    assert server.interrupt() == 0, server.log()
    assert "mailroom stopped" in server.log()


def test_it_shows_bad_input_at_its_field_and_saves_nothing(
    mailroom_server: MailroomServer,
    page: Page,
    imap_account: ImapAccount,
    smtp_server: SmtpSink,
) -> None:
    server = mailroom_server
    _log_in(page, server)
    before = _mailbox_rows(page, server)

    # An empty label and a host name with a space: both shown at their field on Save.
    _fill_new_mailbox(page, imap_account, smtp_server)
    form_url = page.url
    page.get_by_label("Label").fill("")
    # A text input drops line breaks, so "bad host\nname" arrives as "bad hostname".
    page.get_by_label("IMAP host").fill("bad host\nname")
    page.get_by_role("button", name="Save mailbox").click()
    expect(page.locator("#field-label .error")).to_have_text("This field is required.")
    expect(page.locator("#field-imap_host .error")).to_have_text("This is not a valid host name.")
    expect(page.locator("#field-imap_host")).to_have_class("field invalid")
    expect(page.locator(".field .error")).to_have_count(2)
    assert imap_account.password not in page.content()
    _screenshot(page, "mailbox-form-errors.png")

    # A wrong password: the server's refusal is shown at the password field.
    wrong = "wrong-" + imap_account.password
    _fill_connection(page, imap_account, smtp_server, password=wrong)
    _check_connection(page)
    expect(page.locator("#field-password .error")).to_have_text(
        "The server refused the user name or password."
    )
    expect(page.locator(".field .error")).to_have_count(1)
    expect(page.locator("ul.messages")).to_have_count(0)
    expect(page.locator("#field-folders input[type=checkbox]")).to_have_count(0)
    content = page.content()
    assert wrong not in content
    assert imap_account.password not in content

    # A closed port: the connection is refused, which is shown at the host field.
    _fill_connection(page, imap_account, smtp_server, password=imap_account.password)
    page.get_by_label("IMAP port").fill(str(free_port()))
    _check_connection(page)
    expect(page.locator("#field-imap_host .error")).to_contain_text("refused the connection")
    expect(page.locator(".field .error")).to_have_count(1)
    assert imap_account.password not in page.content()

    # None of this saved anything.
    assert page.url == form_url
    assert _mailbox_rows(page, server) == before
    assert server.cli("mailbox", "list") == ""

    assert server.interrupt() == 0, server.log()


def test_it_saves_the_password_it_checked_without_asking_for_it_again(
    mailroom_server: MailroomServer,
    page: Page,
    imap_account: ImapAccount,
    smtp_server: SmtpSink,
) -> None:
    _log_in(page, mailroom_server)
    _fill_new_mailbox(page, imap_account, smtp_server)
    _check_connection(page)
    expect(page.locator("ul.messages")).to_contain_text("Connection works")
    page.locator("#field-folders").get_by_label("INBOX", exact=True).check()
    page.get_by_role("button", name="Save mailbox").click()
    expect(page.get_by_role("heading", name="Support")).to_be_visible()

    status = _synced_status(page)
    assert mailroom_server.interrupt() == 0, mailroom_server.log()
    assert status == "Working"


def _order(n: int) -> bytes:
    return (
        f"From: Customer {n} <c{n}@customer.test>\r\nTo: support@example.test\r\n"
        f"Subject: Order {n}\r\nMessage-ID: <order-{n}@customer.test>\r\n\r\nHello {n}\r\n"
    ).encode()


def _progress_value(page: Page) -> float:
    value = page.evaluate("document.getElementById('import-progress').value")
    return float(value)


def test_it_shows_a_first_import_progressing_while_the_page_is_open(
    tmp_path: Path, page: Page, imap_account: ImapAccount, smtp_server: SmtpSink
) -> None:
    total = 30
    imap_account.server.append_many(
        imap_account.username, imap_account.password, "INBOX", [_order(n) for n in range(total)]
    )
    server = MailroomServer(tmp_path / "data")
    # One message per fetch, each IMAP reply held 0.15 s: the import lasts several seconds.
    server.env["MAILROOM_FETCH_BATCH"] = "1"
    with SlowProxy(imap_account.host, imap_account.port, delay=0.15) as proxy:
        try:
            server.start()
            _log_in(page, server)
            page.get_by_role("link", name="Add mailbox").first.click()
            page.get_by_label("Label").fill("Support")
            page.get_by_label("Email", exact=True).fill("support@example.test")
            _fill_connection(page, imap_account, smtp_server, password=imap_account.password)
            page.get_by_label("IMAP port").fill(str(proxy.port))
            _check_connection(page)
            expect(page.locator("ul.messages")).to_contain_text("Connection works")
            page.locator("#field-folders").get_by_label("INBOX", exact=True).check()
            page.locator("#history").get_by_label("All", exact=True).check()
            page.get_by_role("button", name="Save mailbox").click()
            expect(page.locator("ul.messages")).to_contain_text("Sync requested")

            polls: list[str] = []
            page.on("request", lambda r: polls.append(r.url) if "/progress/" in r.url else None)
            page.evaluate("window.stillTheSamePage = true")
            importing = page.locator("#import")
            expect(importing).to_be_visible(timeout=30_000)
            expect(importing).to_contain_text("to go")
            _screenshot(page, "mailbox-import.png")
            values = []
            deadline = time.monotonic() + 90
            while importing.is_visible() and time.monotonic() < deadline:
                values.append(_progress_value(page))
                time.sleep(0.3)

            # The bar moved, forward only, without the page being reloaded.
            assert page.evaluate("window.stillTheSamePage") is True
            assert len(set(values)) >= 2, values
            assert values == sorted(values), values
            assert len(polls) >= 2
            expect(importing).to_be_hidden()
            inbox = page.locator("#folders tbody tr", has_text="INBOX")
            expect(inbox.locator('[data-cell="imported"]')).to_have_text(str(total))
            expect(inbox.locator('[data-cell="state"]')).to_have_text("up to date")
            expect(page.locator("h1 .badge")).to_have_text("Working")
            assert server.interrupt() == 0, server.log()
        finally:
            server.kill()


def test_it_asks_before_connecting_another_account_and_before_deleting(
    mailroom_server: MailroomServer,
    page: Page,
    imap_account: ImapAccount,
    smtp_server: SmtpSink,
) -> None:
    server = mailroom_server
    _log_in(page, server)
    _fill_new_mailbox(page, imap_account, smtp_server)
    _check_connection(page)
    page.locator("#field-folders").get_by_label("INBOX", exact=True).check()
    page.get_by_role("button", name="Save mailbox").click()
    expect(page.get_by_role("heading", name="Support")).to_be_visible()

    page.get_by_role("button", name="Sync now").click()
    expect(page.locator("ul.messages")).to_contain_text("Sync requested")

    # Another port is another account: nothing is saved until that is confirmed.
    page.get_by_role("link", name="Settings").click()
    expect(page.locator("#history-summary")).to_contain_text("Saving again never moves")
    other_port = str(free_port())
    page.get_by_label("IMAP port").fill(other_port)
    page.get_by_label("Password").fill(imap_account.password)
    page.get_by_role("button", name="Save mailbox").click()
    warning = page.locator("#new-account")
    expect(warning).to_contain_text("This connects a different account")
    expect(page.locator("#field-imap_port .error")).to_contain_text("different account")
    expect(page.locator("#history")).to_be_visible()
    assert imap_account.password not in page.content()
    _screenshot(page, "mailbox-form-new-account.png")
    assert f"127.0.0.1:{imap_account.port}" in server.cli("mailbox", "list")

    # The password typed with the change is kept (sealed) for this second Save.
    expect(page.locator("#password-kept")).to_be_visible()
    warning.get_by_label("Yes, connect the different account").check()
    page.get_by_role("button", name="Save mailbox").click()
    expect(page.locator("ul.messages")).to_contain_text("A new mailbox account was registered")
    assert f"127.0.0.1:{other_port}" in _mailbox_rows(page, server)[0]

    # Deleting says what goes and wants the label typed back.
    page.get_by_role("link", name="Support").click()
    page.get_by_role("link", name="Delete…").click()
    expect(page.locator("#deletion-summary")).to_contain_text("stored message")
    page.get_by_label("Type the mailbox label to confirm").fill("support")
    page.get_by_role("button", name="Delete this mailbox").click()
    expect(page.locator("#field-confirm_label .error")).to_contain_text("“Support” exactly")
    assert server.cli("mailbox", "list") != ""
    page.get_by_label("Type the mailbox label to confirm").fill("Support")
    page.get_by_role("button", name="Delete this mailbox").click()
    expect(page.locator("ul.messages")).to_contain_text("Mailbox “Support” deleted")
    expect(page.locator("#mailboxes")).to_contain_text("No system mailboxes yet")
    assert server.cli("mailbox", "list") == ""

    assert server.interrupt() == 0, server.log()
