"""The rule editor in a real browser against ``mailroom run``: a rule with three condition
rows (one removed again), added without a page reload; an HTML response written in the rule
with a German translation and saved as a library template; then a German customer's mail is
answered in German through the real Dovecot and SMTP server."""

from __future__ import annotations

from email import message_from_bytes, policy

from playwright.sync_api import Page, expect

from tests.servers.fixtures import ImapAccount
from tests.servers.smtp import SmtpSink
from tests.ui.conftest import MailroomServer
from tests.ui.test_entities import ANN, _add_mailbox, _mail
from tests.ui.test_mailbox_screens import _log_in, _screenshot

PRINTER = _mail(
    ANN,
    "support@example.test",
    "Der Drucker druckt nur leere Seiten",
    "drucker-1@kunde.test",
    2,
    body="Guten Tag,\n\nseit heute Morgen druckt der Drucker im dritten Stock nur leere "
    "Seiten. Der Toner ist neu.\n\nMit freundlichen Grüßen\nAnn Weber",
)


def test_a_rule_written_in_the_editor_answers_a_german_customer_in_german(
    mailroom_server: MailroomServer, page: Page, imap_account: ImapAccount, smtp_server: SmtpSink
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
    expect(page.locator("#no-rules")).to_be_visible()
    page.locator("#add-rule").click()
    page.get_by_label("Name", exact=True).fill("Printer help")

    # Condition rows come and go in place: the page is never reloaded.
    page.evaluate("window.__samePage = true")
    rows = page.locator("#condition-rows [data-row]")
    expect(rows).to_have_count(1)
    rows.nth(0).locator("select[name$='-field']").select_option(label="Subject")
    rows.nth(0).locator("select[name$='-operator']").select_option(label="contains")
    rows.nth(0).locator("textarea").fill("drucker")
    page.locator("#add-condition").click()
    page.locator("#add-condition").click()
    expect(rows).to_have_count(3)
    rows.nth(1).locator("select[name$='-field']").select_option(label="From")
    rows.nth(1).locator("select[name$='-operator']").select_option(label="is not any of")
    rows.nth(1).locator("textarea").fill("ceo@kunde.test\nboard@kunde.test")
    rows.nth(2).locator("select[name$='-field']").select_option(label="Cc")
    rows.nth(2).locator("select[name$='-operator']").select_option(label="is empty")
    expect(rows.nth(2).locator("textarea")).to_be_hidden()  # "is empty" takes no value
    rows.nth(2).locator(".remove").click()
    expect(rows.nth(2)).to_be_hidden()

    # The response, written here in HTML, English and German.
    page.get_by_label("Format").select_option(label="HTML")
    texts = page.locator("#text-rows [data-row]")
    texts.nth(0).get_by_label("Subject").fill("Re: ")
    texts.nth(0).get_by_label("Body").fill("<p>Hello, we are on it.</p>")
    page.locator("#add-language").click()
    expect(texts).to_have_count(2)
    # The new language's tab asks for its code, with the cursor in it.
    expect(texts.nth(1).get_by_label("Language")).to_have_value("")
    expect(texts.nth(1).get_by_label("Language")).to_be_focused()
    expect(page.get_by_role("tab", name="new language (empty)")).to_be_visible()
    texts.nth(1).get_by_label("Language").fill("de")
    texts.nth(1).get_by_label("Subject").fill("AW: ")
    texts.nth(1).get_by_label("Subject").press("End")
    page.locator("button.placeholder[data-placeholder='subject']").click()
    body = texts.nth(1).get_by_label("Body")
    body.fill("<p>Hallo , wir kümmern uns darum.<script>alert(1)</script></p>")
    body.evaluate("el => el.setSelectionRange(9, 9)")  # after "<p>Hallo "
    page.locator("button.placeholder[data-placeholder='sender_name']").click()
    expect(body).to_have_value(
        "<p>Hallo {{ sender_name }}, wir kümmern uns darum.<script>alert(1)</script></p>"
    )
    expect(texts.nth(1).get_by_label("Subject")).to_have_value("AW: {{ subject }}")
    # The live preview: sample values put in, the script gone, no script run.
    preview = texts.nth(1).locator("[data-preview]")
    expect(preview.locator(".preview-subject")).to_have_text("AW: Printer prints blank pages")
    frame = texts.nth(1).frame_locator("iframe.preview-html")
    expect(frame.locator("p")).to_have_text("Hallo Ann Weber, wir kümmern uns darum.")
    page.get_by_label("Save response as email template").check()
    page.get_by_label("Template name").fill("Printer answer")
    assert page.evaluate("window.__samePage") is True
    _screenshot(page, "rule-editor.png")

    page.get_by_role("button", name="Save rule").click()
    expect(page.locator("ul.messages")).to_contain_text("Rule “Printer help” saved.")
    rule_row = page.locator("#rules tbody tr")
    expect(rule_row).to_have_count(1)
    expect(rule_row).to_contain_text("Subject contains “drucker” and From is not any of")
    expect(rule_row).not_to_contain_text("Cc")
    expect(rule_row).to_contain_text("template “Printer answer” (de, en)")
    _screenshot(page, "mailbox-rules.png")

    # Ann writes in German: she is answered once, in German, without the script.
    imap_account.append("INBOX", PRINTER)
    (reply,) = smtp_server.wait_for(1, timeout=60)
    assert reply.rcpt_tos == ["ann.weber@kunde.test"]
    sent = message_from_bytes(reply.data, policy=policy.default)
    assert sent["Subject"] == "AW: Der Drucker druckt nur leere Seiten"
    assert sent["Content-Language"] == "de"
    html = sent.get_body(("html",))
    assert html is not None
    content = html.get_content()
    assert "Hallo Ann Weber, wir kümmern uns darum." in content
    assert "script" not in content and "alert" not in content

    # The dry run on the saved rule: Ann's mail was answered already; nothing new is sent.
    page.goto(f"{server.base_url}/")
    page.get_by_role("link", name="Support").click()
    page.locator("#rules").get_by_role("link", name="Printer help").click()
    page.get_by_role("button", name="Dry run").click()
    plan = page.locator("#dry-run-rows tbody tr")
    expect(plan).to_have_count(1)
    expect(plan.first).to_contain_text("Der Drucker druckt nur leere Seiten")
    expect(plan.first).to_contain_text("this message was answered already")
    # The page opens at the results, not at the top of the long editor.
    assert page.url.endswith("#dry-run")
    expect(page.locator("#dry-run h2")).to_be_in_viewport()
    _screenshot(page, "rule-dry-run.png")
    assert len(smtp_server.messages) == 1
