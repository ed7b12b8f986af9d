"""Destructive buttons ask first, in Chromium against the real ``mailroom run``: dismissing the
question posts nothing and changes nothing; accepting it does the action."""

from __future__ import annotations

from playwright.sync_api import Dialog, Page, Request, expect

from tests.ui.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, MailroomServer


def _answer(page: Page, accept: bool, asked: list[str]) -> None:
    """Answer the next dialog, keeping its question."""

    def handle(dialog: Dialog) -> None:
        asked.append(dialog.message)
        if accept:
            dialog.accept()
        else:
            dialog.dismiss()

    page.once("dialog", handle)


def test_reset_password_deactivate_and_delete_ask_first(
    mailroom_server: MailroomServer, page: Page
) -> None:
    server = mailroom_server
    posts: list[str] = []
    page.on("request", lambda r: _record_post(r, posts))
    asked: list[str] = []

    page.goto(f"{server.base_url}/login/")
    page.get_by_label("Email or user name").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{server.base_url}/people/new/")
    page.get_by_label("Name").fill("Dora Agent")
    page.get_by_label("Email").fill("dora@example.test")
    page.get_by_label("Generate a password, shown once, to pass on").check()
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_text("It is shown only this once")).to_be_visible()
    page.get_by_role("link", name="Done").click()
    person_url = page.url

    # Dismissed: nothing is posted, the page stays as it was.
    posts.clear()
    _answer(page, False, asked)
    page.get_by_role("button", name="Reset password").click()
    _answer(page, False, asked)
    page.get_by_role("button", name="Deactivate").click()
    assert asked == [
        "Reset the password of dora@example.test? Their current password stops working at "
        "once and they are logged out everywhere; the new one is shown to you once.",
        "Deactivate dora@example.test? They can no longer log in and are logged out at once; "
        "nothing they did is deleted, and they can be reactivated.",
    ]
    expect(page.get_by_role("button", name="Deactivate")).to_be_enabled()
    assert page.url == person_url and posts == []

    # Accepted: the action is done.
    _answer(page, True, asked)
    page.get_by_role("button", name="Reset password").click()
    expect(page.get_by_role("heading", name="New password for dora@example.test")).to_be_visible()
    page.goto(person_url)
    _answer(page, True, asked)
    page.get_by_role("button", name="Deactivate").click()
    expect(page.get_by_text("Deactivated", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Reactivate")).to_be_visible()

    # A Lead source's Delete (a button outside its form) asks too.
    page.goto(f"{server.base_url}/lead-sources/")
    row = page.locator('tr[data-source="Partner"]')
    posts.clear()
    _answer(page, False, asked)
    row.get_by_role("button", name="Delete").click()
    assert asked[-1] == "Delete the lead source “Partner”? This cannot be undone."
    assert posts == []
    expect(row).to_have_count(1)
    _answer(page, True, asked)
    row.get_by_role("button", name="Delete").click()
    expect(row).to_have_count(0)


def _record_post(request: Request, posts: list[str]) -> None:
    if request.method == "POST":
        posts.append(request.url)
