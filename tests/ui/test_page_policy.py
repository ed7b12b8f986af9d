"""The page policy (mailroom.web.page_policy) in Chromium: on a mailroom page, markup that
escaped the templates' escaping could not run a script, style the page or load a remote
image; mailroom's own scripts and stylesheets still work.

The injection is made in transit (Playwright rewrites the served page, keeping its headers), as
if a template had let sender text through unescaped: the test is about the browser enforcing the
policy mailroom sends, whatever the page holds.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests.ui.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Listener, MailroomServer


def _injected(remote: str) -> str:
    return (
        "<script>window.injectedScript = 1</script>"
        f'<img id="injected-img" src="{remote}/img.png" '
        'onerror="window.injectedHandler = 1" onload="window.injectedHandler = 1">'
        f'<a id="injected-link" href="javascript:window.injectedLink = 1">link</a>'
        '<p id="injected-style" style="color: rgb(255, 0, 0)">styled</p>'
        f'<link rel="stylesheet" href="{remote}/remote.css">'
    )


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page of its own: the refusals this test provokes are what it is about."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_markup_that_escaped_a_template_cannot_run_style_or_reach_out(
    mailroom_server: MailroomServer, page: Page, listener: Listener
) -> None:
    base = mailroom_server.base_url
    page.goto(f"{base}/login/")
    page.get_by_label("Email or user name").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="System mailboxes")).to_be_visible()

    def inject(route: Route) -> None:
        response = route.fetch()
        body = response.text().replace("</main>", _injected(listener.url) + "</main>", 1)
        route.fulfill(response=response, body=body)

    page.route(f"{base}/", inject)
    policies: list[str] = []
    page.on("console", lambda message: policies.append(message.text))
    response = page.goto(f"{base}/")
    assert response is not None and response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator("#injected-style")).to_be_visible()  # the markup is there
    page.locator("#injected-link").click()
    page.wait_for_timeout(300)

    ran = page.evaluate(
        "[window.injectedScript, window.injectedHandler, window.injectedLink]"
        ".filter(value => value !== undefined).length"
    )
    assert ran == 0, "injected markup ran a script on a mailroom page"
    colour = page.locator("#injected-style").evaluate("el => getComputedStyle(el).color")
    assert colour != "rgb(255, 0, 0)", "a style attribute applied on a mailroom page"
    assert listener.paths == [], f"a mailroom page reached another site: {listener.paths}"
    assert any("Content Security Policy" in text for text in policies), policies

    # mailroom's own stylesheet and scripts still work under the policy: the header's menu
    # button (added by nav.js) opens the menu at phone width.
    page.unroute(f"{base}/")
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"{base}/")
    toggle = page.locator("header.top .menu-toggle")
    expect(toggle).to_be_visible()
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
