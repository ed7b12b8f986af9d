"""Every main screen at 1280 and 390 px wide in Chromium against the real ``mailroom run``.

The data comes through the product: two mailboxes on the test Dovecot (Support makes Cases,
Sales makes Leads), an autoresponse rule saved as a template in the rule editor, and a
customer's mail synced by the server, one of them with a subject and an address too long for
any line. Each screen must fit its width with no horizontal scrolling, and its header links
must be reachable: at 390 px behind the menu button, which opens them inside the screen.

A screen whose URL name does not exist yet (another part of the product being built) is
skipped, by that name. Screenshots go to docs/screenshots/<screen>-<width>.png with
``MAILROOM_UPDATE_SCREENSHOTS=1``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from django.urls import NoReverseMatch, get_resolver, reverse
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.servers.dovecot import DovecotServer
from tests.servers.fixtures import ImapAccount
from tests.servers.smtp import SmtpSink
from tests.ui.conftest import CHROMIUM, CHROMIUM_ARGS, MailroomServer, PolicyViolations
from tests.ui.test_entities import ANN, ANN_EMAIL, PRINTER, QUOTE, _add_mailbox, _mail
from tests.ui.test_mailbox_screens import _log_in, _screenshot

WIDTHS = {1280: 800, 390: 844}

# A subject and an address with no place to break a line: they must wrap, not widen the page.
LONG_WORD = "Rechnungsnummer-" + "0123456789" * 8
LONG_SENDER = "buchhaltung.abteilung.rechnungswesen.zentrale" + "@" + "kunde-" * 6 + "gmbh.test"
LONG = _mail(
    f"Buchhaltung <{LONG_SENDER}>",
    "support@example.test",
    f"Frage zu {LONG_WORD}",
    "invoice-1@kunde.test",
    40,
    body=f"Guten Tag,\n\nbitte prüfen Sie {LONG_WORD}.\n\nhttps://kunde.test/{'x' * 120}",
)
# Ann's photo of the blank pages, in HTML with a remote image: the message view blocks it.
PHOTO = (
    "\r\n".join(
        [
            f"Return-Path: <{ANN_EMAIL}>",
            f"From: {ANN}",
            "To: support@example.test",
            "Subject: Re: Printer on floor 3 prints blank pages",
            f"Date: {format_datetime(datetime.now(UTC) - timedelta(minutes=10))}",
            "Message-ID: <printer-2@kunde.test>",
            "In-Reply-To: <printer-1@kunde.test>",
            "References: <printer-1@kunde.test>",
            "MIME-Version: 1.0",
            "Content-Type: text/html; charset=utf-8",
        ]
    )
    + "\r\n\r\n"
    + "<p>Hello,</p><p>this is what the printer gives us:</p>"
    '<p><img src="https://images.kunde.test/blank-page.jpg" alt="A blank page"></p>'
    "<p>Ann Weber<br>Accounts, Kunde GmbH</p>\r\n"
).encode()


@dataclass
class Product:
    """The running server with its data, and a browser whose storage holds a session."""

    server: MailroomServer
    browser: Browser
    session: Any
    ids: dict[str, int]
    paths: dict[str, str] = field(default_factory=dict)


def _id_in(href: str | None, pattern: str) -> int:
    match = re.search(pattern, href or "")
    assert match, f"no id in {href!r}"
    return int(match.group(1))


def _wait_for(page: Page, url: str, text: str, tries: int = 60) -> None:
    """Reload ``url`` until it shows ``text`` (the watcher syncs every 2 s)."""
    for _ in range(tries):
        page.goto(url)
        if text in page.locator("main").inner_text():
            return
        page.wait_for_timeout(500)
    expect(page.locator("main")).to_contain_text(text)


def _write_rule(page: Page) -> None:
    """On the mailbox page: a rule answering printer questions, kept as a library template."""
    page.locator("#add-rule").click()
    page.get_by_label("Name", exact=True).fill("Printer help")
    row = page.locator("#condition-rows [data-row]").first
    row.locator("select[name$='-field']").select_option(label="Subject")
    row.locator("select[name$='-operator']").select_option(label="contains")
    row.locator("textarea").fill("printer")
    text = page.locator("#text-rows [data-row]").first
    text.get_by_label("Subject").fill("Re: {{ subject }}")
    text.get_by_label("Body").fill(
        "Hello {{ sender_name }},\n\nthank you: we have your message and answer it today."
    )
    page.get_by_label("Save response as email template").check()
    page.get_by_label("Template name").fill("Printer answer")
    page.get_by_role("button", name="Save rule").click()
    expect(page.locator("ul.messages")).to_contain_text("Rule “Printer help” saved.")


def _add_people(page: Page, base: str) -> None:
    """A role reading Support, and an agent in it (while People is being built: if it is)."""
    try:
        roles, people = reverse("role-list"), reverse("person-create")
    except NoReverseMatch:
        return
    page.goto(base + roles)
    page.get_by_label("Name").fill("Support agents")
    mailboxes = page.get_by_role("group", name="Mailboxes they may read")
    mailboxes.get_by_label("Support").check()
    page.get_by_role("button", name="Add role").click()
    expect(page.locator('tr[data-role="Support agents"]')).to_be_visible()
    page.goto(base + people)
    page.get_by_label("Name").fill("Dora Agent")
    page.get_by_label("Email").fill("dora@example.test")
    page.get_by_role("group", name="Roles").get_by_label("Support agents").check()
    page.get_by_label("Generate a password, shown once, to pass on").check()
    page.get_by_role("button", name="Create").click()
    expect(page.locator("#one-time-password")).to_be_visible()


def _build(page: Page, server: MailroomServer, dovecot: DovecotServer) -> dict[str, int]:
    """Mailboxes, a rule, a template and mail, all through the product; the ids it made."""
    base = server.base_url
    ids: dict[str, int] = {}
    page.goto(f"{base}/sales-channels/")
    page.get_by_label("Name").fill("Direct sales")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator('tr[data-channel="Direct sales"]')).to_contain_text("Active")

    accounts = []
    for label in ("support", "sales"):
        account = ImapAccount(
            dovecot.host,
            dovecot.port,
            f"{label}-{secrets.token_hex(4)}@example.test",
            f"pw-{secrets.token_hex(6)}",
            dovecot,
        )
        dovecot.add_user(account.username, account.password)
        accounts.append(account)
    support, sales = accounts
    with (
        SmtpSink(username=support.username, password=support.password, auth_required=True) as s1,
        SmtpSink(username=sales.username, password=sales.password, auth_required=True) as s2,
    ):
        _add_mailbox(
            page,
            server,
            sales,
            s2,
            label="Sales",
            email="sales@example.test",
            processing="Convert to Lead",
        )
        _add_mailbox(
            page,
            server,
            support,
            s1,
            label="Support",
            email="support@example.test",
            processing="Convert to Case",
        )
        ids["mailbox_id"] = _id_in(page.url, r"/mailboxes/(\d+)/")
        _write_rule(page)
        ids["rule_id"] = _id_in(
            page.locator("#rules tbody tr a").first.get_attribute("href"), r"/rules/(\d+)/"
        )

        support.append("INBOX", PRINTER)
        support.append("INBOX", LONG)
        sales.append("INBOX", QUOTE)
        _wait_for(page, f"{base}/cases/", LONG_WORD)
        s1.wait_for(1, timeout=60)  # Ann's question about the printer is answered.
        support.append("INBOX", PHOTO)
        _wait_for(page, f"{base}/cases/", "Printer on floor 3")
        case = page.locator("#cases tbody tr", has_text="Printer on floor 3")
        ids["case_id"] = _id_in(
            case.get_by_role("link", name="Printer on floor 3").get_attribute("href"),
            r"/cases/(\d+)/",
        )
        _wait_for(page, f"{base}/cases/{ids['case_id']}/", "Conversation (2 messages)")

    thread = [
        _id_in(a.get_attribute("href"), r"/messages/(\d+)/")
        for a in page.locator("#thread .thread-message > p:first-child > a").all()
    ]
    ids["first_message_id"], ids["message_id"] = thread[0], thread[-1]
    ids["contact_id"] = _id_in(
        page.locator("#contact a").first.get_attribute("href"), r"/contacts/(\d+)/"
    )
    _wait_for(page, f"{base}/leads/", "Ann Weber")
    ids["lead_id"] = _id_in(
        page.locator("#leads tbody tr a[href*='/leads/']").first.get_attribute("href"),
        r"/leads/(\d+)/",
    )
    _add_people(page, base)
    page.goto(f"{base}/templates/")
    ids["template_id"] = _id_in(
        page.get_by_role("link", name="Printer answer").get_attribute("href"),
        r"/templates/(\d+)/",
    )
    return ids


@pytest.fixture(scope="module")
def product(dovecot: DovecotServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Product]:
    """One server and its data for every screen and width (building it takes a while)."""
    server = MailroomServer(tmp_path_factory.mktemp("layout") / "data")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            server.start()
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            context.set_default_timeout(15_000)
            page = context.new_page()
            _log_in(page, server)
            ids = _build(page, server, dovecot)
            session = context.storage_state()
            context.close()
            yield Product(server, browser, session, ids)
            assert server.interrupt() == 0, server.log()
        finally:
            server.kill()
            browser.close()


# The screens of the product, by the name of their screenshot, with their URL name. The
# values for a URL's arguments come from the ids the data was built with.
SCREENS = {
    "login": "login",
    "mailbox-list": "mailbox-list",
    "mailbox-page": "mailbox-detail",
    "mailbox-form": "mailbox-edit",
    "rule-editor": "rule-edit",
    "template-list": "template-list",
    "template-form": "template-edit",
    "case-list": "case-list",
    "case-page": "case-detail",
    "lead-list": "lead-list",
    "lead-page": "lead-detail",
    "contact-page": "contact-detail",
    "lead-sources": "lead-sources",
    "sales-channels": "sales-channels",
    "message-list": "message-list",
    "message-page": "message-detail",
    "reply-form": "message-reply",
    "people": "people",
    "person-form": "person-create",
    "roles": "role-list",
    "health": "health",
    "connection-checks": "connection-checks",
}
ARGUMENT_IDS = {
    "mailbox": "mailbox_id",
    "rule": "rule_id",
    "template": "template_id",
    "case": "case_id",
    "lead": "lead_id",
    "contact": "contact_id",
    "message": "message_id",
}


def _path(url_name: str, ids: dict[str, int]) -> str:
    """The screen's path, its arguments filled from ``ids``; skips a URL not built yet."""
    try:
        return reverse(url_name)
    except NoReverseMatch:
        pass
    names = {
        param
        for possibility, *_ in get_resolver().reverse_dict.getlist(url_name)
        for _, params in possibility
        for param in params
    }
    if not names:
        pytest.skip(f"no URL named {url_name!r} yet")
    kwargs = {}
    for name in names:
        key = ARGUMENT_IDS.get(name.removesuffix("_id"))
        if key is None:
            pytest.skip(f"URL {url_name!r} takes {name!r}, which this test has no value for")
        kwargs[name] = ids[key]
    try:
        return reverse(url_name, kwargs=kwargs)
    except NoReverseMatch:
        pytest.skip(f"URL {url_name!r} does not take {sorted(kwargs)}")


# The elements that stick out of the viewport on the right, innermost first, described by
# tag, id and classes, with how far they reach.
OVERFLOWING = """() => {
  const width = window.innerWidth;
  const describe = (el) => {
    const parts = [];
    for (let e = el; e && e !== document.body && parts.length < 4; e = e.parentElement) {
      let s = e.tagName.toLowerCase();
      if (e.id) s += "#" + e.id;
      if (typeof e.className === "string" && e.className.trim())
        s += "." + e.className.trim().split(/\\s+/).join(".");
      parts.unshift(s);
    }
    return parts.join(" > ");
  };
  const out = [];
  for (const el of document.body.querySelectorAll("*")) {
    const right = el.getBoundingClientRect().right;
    if (right > width + 0.5 && ![...el.children].some(
        (c) => c.getBoundingClientRect().right > width + 0.5)) {
      out.push(describe(el) + " reaches " + Math.round(right) + " px");
    }
  }
  return out.slice(0, 8);
}"""


# On a phone each table.list reads as a list: no header row, each row's title across it.
NOT_LISTS = """() => {
  const out = [];
  document.querySelectorAll("table.list").forEach((table, n) => {
    const name = table.id ? "#" + table.id : "table " + (n + 1);
    if (table.tHead && table.tHead.getBoundingClientRect().height > 1)
      out.push(name + " shows its header row");
    table.querySelectorAll("tbody td.title").forEach((td) => {
      const row = td.parentElement.getBoundingClientRect().width;
      if (td.getBoundingClientRect().width < 0.8 * row)
        out.push(name + ": a row title takes " + Math.round(td.getBoundingClientRect().width)
                 + " of " + Math.round(row) + " px");
    });
  });
  return out;
}"""


def _assert_tables_are_lists(page: Page, screen: str) -> None:
    problems = page.evaluate(NOT_LISTS)
    assert not problems, f"{screen}: " + "; ".join(problems)


def _assert_no_horizontal_scrolling(page: Page, screen: str, width: int) -> None:
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    inner_width = page.evaluate("window.innerWidth")
    assert scroll_width <= inner_width, (
        f"{screen} at {width} px scrolls sideways: {scroll_width} px wide; "
        + "; ".join(page.evaluate(OVERFLOWING))
    )


def _assert_inside(page: Page, what: str, box: dict[str, float] | None) -> None:
    viewport = page.viewport_size
    assert viewport is not None and box is not None, f"{what} has no box"
    assert box["y"] >= 0 and box["x"] >= 0, f"{what} is off screen at {box}"
    assert box["x"] + box["width"] <= viewport["width"], f"{what} sticks out at {box}"
    assert box["y"] + box["height"] <= viewport["height"], f"{what} is below the fold at {box}"


def _assert_header_reachable(page: Page, width: int) -> None:
    links = page.locator("header.top nav a")
    assert links.count() >= 3
    menu = page.locator("header.top .menu-toggle")
    if width >= 1280:
        expect(menu).to_be_hidden()
    else:
        expect(menu).to_be_visible()
        expect(menu).to_have_attribute("aria-expanded", "false")
        expect(links.first).to_be_hidden()
        menu.click()
        expect(menu).to_have_attribute("aria-expanded", "true")
    for link in links.all():
        expect(link).to_be_visible()
        _assert_inside(page, f"the header link {link.inner_text()!r}", link.bounding_box())
    logout = page.locator("header.top").get_by_role("button", name="Log out")
    _assert_inside(page, "the Log out button", logout.bounding_box())
    if width < 1280:
        _assert_no_horizontal_scrolling(page, "the open menu", width)
        menu.click()
        expect(menu).to_have_attribute("aria-expanded", "false")
        expect(links.first).to_be_hidden()


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("screen", list(SCREENS))
def test_the_screen_fits_its_width_and_its_header_links_are_reachable(
    product: Product, screen: str, width: int
) -> None:
    path = _path(SCREENS[screen], product.ids)
    logged_in = screen != "login"
    context = product.browser.new_context(
        viewport={"width": width, "height": WIDTHS[width]},
        storage_state=product.session if logged_in else None,
    )
    context.set_default_timeout(10_000)
    violations = PolicyViolations(context)
    try:
        page = context.new_page()
        response = page.goto(product.server.base_url + path)
        assert response is not None and response.status == 200, f"{screen}: {path}"
        assert page.url.endswith(path), f"{screen}: {path} went to {page.url}"
        _assert_no_horizontal_scrolling(page, screen, width)
        if width < 1280:
            _assert_tables_are_lists(page, screen)
        if logged_in:
            _assert_header_reachable(page, width)
        _screenshot(page, f"{screen}-{width}.png")
        if screen == "mailbox-list" and width < 1280:
            page.locator("header.top .menu-toggle").click()
            _screenshot(page, "menu-open-390.png")
        violations.assert_none()
    finally:
        context.close()


def test_the_keyboard_reaches_the_content_and_the_menu(product: Product) -> None:
    context = product.browser.new_context(
        viewport={"width": 390, "height": 844}, storage_state=product.session
    )
    try:
        page = context.new_page()
        url = product.server.base_url + reverse("case-list")
        page.goto(url)
        # The first Tab shows the skip link; following it puts the focus on the content.
        page.keyboard.press("Tab")
        skip = page.get_by_role("link", name="Skip to content")
        expect(skip).to_be_focused()
        _assert_inside(page, "the skip link", skip.bounding_box())
        page.keyboard.press("Enter")
        expect(page.locator("main")).to_be_focused()
        # From the top: skip link, brand, menu button; Enter opens the menu, Tab enters it.
        page.goto(url)
        for _ in range(3):
            page.keyboard.press("Tab")
        menu = page.locator("header.top .menu-toggle")
        expect(menu).to_be_focused()
        outline = menu.evaluate("el => getComputedStyle(el).outlineStyle")
        assert outline != "none", "the focused menu button shows no focus ring"
        page.keyboard.press("Enter")
        expect(menu).to_have_attribute("aria-expanded", "true")
        page.keyboard.press("Tab")
        first = page.locator("header.top nav a").first
        expect(first).to_be_focused()
        _assert_inside(page, "the first header link", first.bounding_box())
        page.keyboard.press("Escape")
        expect(menu).to_be_focused()
        expect(first).to_be_hidden()
    finally:
        context.close()


def test_without_javascript_the_header_links_wrap_below_the_brand(product: Product) -> None:
    context = product.browser.new_context(
        viewport={"width": 390, "height": 844},
        storage_state=product.session,
        java_script_enabled=False,
    )
    try:
        page = context.new_page()
        page.goto(product.server.base_url + reverse("mailbox-list"))
        expect(page.locator("header.top .menu-toggle")).to_be_hidden()
        for link in page.locator("header.top nav a").all():
            expect(link).to_be_visible()
            _assert_inside(page, f"the header link {link.inner_text()!r}", link.bounding_box())
        _assert_no_horizontal_scrolling(page, "mailbox-list without JavaScript", 390)
    finally:
        context.close()
