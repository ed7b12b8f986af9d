"""The message view in Chromium against the real ``mailroom run``: an HTML mail carrying the
XSS and remote-content payloads of threats.md S01-S03 goes through Dovecot, sync and the
store, and is opened as a reader opens it.

Every payload tries to set a sentinel on the page that holds the frame (``top.__xss``) and
to reach a loopback HTTP listener. Nothing may run, whatever the payload, and the listener
must see no request until the reader clicks "Show remote content"; then the images load
(and still nothing runs, and the stylesheet imports, form targets and script-only URLs stay
unreached). The same page fits a 390 px phone.
"""

from __future__ import annotations

import base64
import time
from email.message import EmailMessage
from email.policy import SMTP

from playwright.sync_api import Browser, Dialog, Page, expect

from tests.servers.fixtures import ImapAccount
from tests.servers.smtp import SmtpSink
from tests.ui.conftest import PIXEL, Listener, MailroomServer
from tests.ui.test_entities import _add_mailbox
from tests.ui.test_mailbox_screens import _log_in, _screenshot

SUBJECT = "Spring offers <b>inside</b>"


def _payloads(remote: str) -> str:
    """The corpus: each one names itself in the sentinel and in the path it tries to reach.

    Paths under /js/ can only be reached by a script that ran, /nav/ by a navigation or a
    form, /css/ by a stylesheet import: none of them, ever. /img/ is what "Show remote
    content" is for.
    """

    def run(name: str) -> str:
        return f"top.__xss='{name}';fetch('{remote}/js/{name}')"

    # CVE-2023-5631: an SVG document by data: URL whose image runs a handler.
    svg_use = base64.b64encode(
        b"<svg id='x' xmlns='http://www.w3.org/2000/svg'>"
        b"<image href='x' onerror=\"top.__xss='svg-use'\"/></svg>"
    ).decode()

    return f"""<html><head>
<meta http-equiv="refresh" content="0;url={remote}/nav/meta-refresh">
<base href="{remote}/nav/base/">
<link rel="stylesheet" href="{remote}/css/link">
<style>
@import url("{remote}/css/import");
@import '{remote}/css/import-string';
.bg {{ background: url({remote}/img/css-background) }}
.expr {{ width: expression({run("css-expression")}) }}
.esc {{ background: \\75rl({remote}/img/css-escaped) }}
</style>
<script>{run("script")}</script>
</head>
<body onload="{run("body-onload")}">
<h1>Spring offers</h1>
<p class="bg">Our catalogue</p>
<p class="expr esc">Prices</p>
<img id="pixel" src="{remote}/img/pixel" width="20" height="20" alt="pixel">
<img src="x" onerror="{run("img-onerror")}">
<img src="cid:logo@shop.test" alt="our logo" id="logo">
<svg><use href="data:image/svg+xml;base64,{svg_use}#x"/></svg>
<svg><a><animate attributeName="href" values="javascript:{run("svg-animate")}"/>
<text x="0" y="20">svg animate</text></a></svg>
<svg onload="{run("svg-onload")}"><filter id="f"><feImage href="{remote}/img/feimage"/>
</filter><rect filter="url(#f)" width="10" height="10"/></svg>
<a id="js-link" href="javascript:{run("js-link")}">javascript link</a>
<a href="jav&#x09;ascript:{run("js-link-entity")}">entity link</a>
<a id="offer" href="https://shop.example.test/offer">The offer</a>
<iframe srcdoc="<script>{run("iframe-srcdoc")}</script>"></iframe>
<iframe src="{remote}/nav/iframe"></iframe>
<form action="{remote}/nav/form" method="post"><input name="q"><button>Send</button></form>
<object data="{remote}/nav/object"></object><embed src="{remote}/nav/embed">
<div style="background:url('{remote}/img/style-background')">styled</div>
<table background="{remote}/img/table-background"><tr><td>table</td></tr></table>
<math><mtext><a href="javascript:{run("math")}">math</a></mtext></math>
<details open ontoggle="{run("details-ontoggle")}"><summary>details</summary></details>
<video poster="{remote}/img/video-poster" src="{remote}/nav/video"></video>
<div style="behavior:url({remote}/js/behavior.htc);-moz-binding:url({remote}/js/binding)">b</div>
</body></html>"""


def _mail(remote: str) -> bytes:
    message = EmailMessage()
    message["From"] = '"<img src=x onerror=top.__xss=1>" <news@shop.example.test>'
    message["To"] = "support@example.test"
    message["Subject"] = SUBJECT
    message["Message-ID"] = "<xss-corpus@shop.example.test>"
    message["Date"] = "Wed, 02 Dec 2026 09:00:00 +0000"
    message.set_content("Spring offers, in plain text.")
    message.add_alternative(_payloads(remote), subtype="html")
    html_part = message.get_body(("html",))
    assert html_part is not None
    html_part.add_related(PIXEL, "image", "png", cid="<logo@shop.test>", filename="logo.png")
    return message.as_bytes(policy=SMTP)


SENTINEL = """() => {
    const found = [window.__xss];
    for (const frame of document.querySelectorAll("iframe")) {
        try { found.push(frame.contentWindow.__xss); } catch (e) { found.push("unreadable"); }
    }
    return found.filter((v) => v !== undefined);
}"""


def _open_message(page: Page, server: MailroomServer) -> None:
    """From the mailbox page (where adding it left us), reloaded until sync brought the
    mail, to the message."""
    link = page.locator("main a", has_text=SUBJECT)
    deadline = time.monotonic() + 30
    while link.count() == 0 and time.monotonic() < deadline:
        time.sleep(0.5)
        page.reload()
    assert link.count() > 0, server.log()
    link.first.click()
    expect(page.get_by_role("heading", name=SUBJECT)).to_be_visible()


def _frame_loaded(page: Page) -> None:
    """Wait for the frame's page (whatever it turned out to hold), and a moment for anything
    it might start after loading."""
    page.wait_for_function(
        """() => { const f = document.getElementById("message-frame");
                   try { return f.contentDocument.readyState === "complete"
                                && f.contentDocument.URL.includes("/body/"); }
                   catch (e) { return true; } }"""
    )
    page.wait_for_timeout(1000)


def test_no_payload_runs_and_nothing_remote_loads_until_the_reader_allows_it(
    mailroom_server: MailroomServer,
    browser: Browser,
    imap_account: ImapAccount,
    smtp_server: SmtpSink,
    listener: Listener,
) -> None:
    server = mailroom_server
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    popups: list[Page] = []
    context.on("page", lambda p: popups.append(p))
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
    imap_account.append("INBOX", _mail(listener.url))

    body_responses: list[dict[str, str]] = []
    page.on(
        "response",
        lambda r: body_responses.append(r.headers) if "/body/" in r.url else None,
    )
    _open_message(page, server)
    _frame_loaded(page)
    assert page.evaluate(SENTINEL) == []
    assert dialogs == []
    assert listener.paths == [], listener.paths

    # The frame and its page: sandboxed without scripts, under the strict policy.
    frame = page.locator("#message-frame")
    sandbox = (frame.get_attribute("sandbox") or "").split()
    assert "allow-scripts" not in sandbox
    assert "allow-top-navigation" not in sandbox
    assert body_responses, "the frame's page was not loaded"
    headers = body_responses[-1]
    policy = headers["content-security-policy"]
    assert "script-src 'none'" in policy
    assert "img-src 'self';" in policy
    assert "default-src 'none'" in policy
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-type"] == "text/html; charset=utf-8"

    # The mail shows, its cid image from the message itself; nothing ran, nothing left.
    inner = page.frame_locator("#message-frame")
    expect(inner.locator("h1")).to_have_text("Spring offers")
    logo_width = inner.locator("img[alt='our logo']").evaluate("img => img.naturalWidth")
    assert logo_width == 1
    expect(page.locator("#remote-bar")).to_contain_text("Remote content is blocked")
    inner.get_by_text("javascript link").click()
    inner.locator("text=details").click()
    time.sleep(1.0)
    assert page.evaluate(SENTINEL) == []
    assert dialogs == []
    assert listener.paths == [], listener.paths
    assert page.url.endswith("/"), page.url
    expect(page.locator("#from")).to_contain_text("<img src=x onerror=top.__xss=1>")
    _screenshot(page, "message-detail.png")

    # The reader allows remote content for this message: the images come, nothing else.
    page.get_by_role("link", name="Show remote content").click()
    _frame_loaded(page)
    expect(page.locator("#remote-bar")).to_have_count(0)
    deadline = time.monotonic() + 5
    while "/img/pixel" not in listener.paths and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)
    assert "/img/pixel" in listener.paths, listener.paths
    assert "/img/style-background" in listener.paths, listener.paths
    assert inner.locator("img[alt=pixel]").evaluate("img => img.naturalWidth") == 1
    inner.get_by_text("javascript link").click()
    time.sleep(0.5)
    assert page.evaluate(SENTINEL) == []
    assert dialogs == []
    reached = [p for p in listener.paths if not p.startswith("/img/")]
    assert reached == [], reached
    assert "remote=1" in (frame.get_attribute("src") or "")
    assert "img-src 'self' http: https:" in body_responses[-1]["content-security-policy"]
    assert "script-src 'none'" in body_responses[-1]["content-security-policy"]

    # The next message view starts blocked again: the choice was for this view only.
    page.reload()
    _frame_loaded(page)
    count = len(listener.paths)
    page.goto(page.url.split("?")[0])
    _frame_loaded(page)
    time.sleep(1.0)
    expect(page.locator("#remote-bar")).to_be_visible()
    assert len(listener.paths) == count
    # A link whose javascript: address was dropped opens nothing.
    assert popups == []

    # On a phone: no sideways scrolling, the frame within the screen and sized to the mail
    # by the page's script (not its CSS default of 480 px), nothing cut off.
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    _frame_loaded(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    box = page.locator("#message-frame").bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= 390
    height, content = page.locator("#message-frame").evaluate(
        "f => [f.getBoundingClientRect().height, f.contentDocument.documentElement.scrollHeight]"
    )
    assert content <= height <= content + 4
    assert height != 480
    _screenshot(page, "message-detail-phone.png")
    context.close()
    assert server.interrupt() == 0, server.log()
