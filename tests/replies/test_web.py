"""The reply screen: prefilled as a mail client does, only for those who may read the mailbox,
CSRF-protected, never sending on GET, refusing header injection at the field, and sending only
cleaned HTML."""

from __future__ import annotations

import html
import re

from django.contrib.auth.models import User
from django.test import Client

from mailroom.models import MailboxConnection, Message, OutboxMessage, OutboxState, SentCopy
from tests.replies.conftest import QUESTION_ID, Rig, Tasks, parsed


def _field(page: str, name: str) -> str:
    """The value of the input named ``name`` ("" when it has none)."""
    tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', page)
    assert tag is not None, name
    value = re.search(r'value="([^"]*)"', tag.group(0))
    return html.unescape(value.group(1)) if value else ""


def test_the_form_answers_the_sender_once_re_with_the_quote(rig: Rig, tasks: Tasks) -> None:
    response = rig.client(rig.reader).get(f"/messages/{rig.message.pk}/reply/")
    assert response.status_code == 200
    page = response.content.decode()
    assert _field(page, "to") == "alice@cust.test"
    assert _field(page, "cc") == ""
    # "Re: Printer prints blank pages" stays as it is, not "Re: Re: …".
    assert _field(page, "subject") == "Re: Printer prints blank pages"
    assert "On Tue, 3 Mar 2026 at 10:15, Alice Martin &lt;alice@cust.test&gt; wrote:" in page
    assert "&gt; the printer on floor 3 prints blank pages." in page
    assert "Support &lt;support@example.test&gt;" in page
    assert 'src="/static/mailroom/reply-editor.js"' in page
    assert 'href="/static/mailroom/reply.css"' in page
    # Reply to all: the other people the message named, never the mailbox itself.
    page = rig.client(rig.reader).get(f"/messages/{rig.message.pk}/reply/?all=1").content.decode()
    assert _field(page, "cc") == "bob@cust.test"
    # Looking at the form sends nothing.
    assert not OutboxMessage.objects.exists() and tasks.waiting == []


def test_the_reply_goes_to_the_reply_to_address(rig: Rig) -> None:
    rig.message.reply_to = [{"name": "Orders", "email": "orders@cust.test"}]
    rig.message.save(update_fields=["reply_to"])
    page = rig.client(rig.reader).get(f"/messages/{rig.message.pk}/reply/").content.decode()
    assert _field(page, "to") == "orders@cust.test"


def test_someone_without_the_mailbox_gets_404_everywhere(rig: Rig, tasks: Tasks) -> None:
    row = rig.reply(tasks)
    stranger = rig.client(rig.stranger)
    url = f"/messages/{rig.message.pk}/reply/"
    assert stranger.get(url).status_code == 404
    data = {"to": "alice@cust.test", "subject": "x", "format": "text", "body": "x"}
    assert stranger.post(url, data).status_code == 404
    assert stranger.post(f"/replies/{row.pk}/retry/").status_code == 404
    assert stranger.post(f"/replies/{row.pk}/copy/").status_code == 404
    assert stranger.post("/messages/999999/reply/", data).status_code == 404
    assert OutboxMessage.objects.count() == 1
    # Signed out: to the login page.
    response = Client().get(url)
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    # The endpoints that change something take POST only.
    reader = rig.client(rig.reader)
    assert reader.get(f"/replies/{row.pk}/retry/").status_code == 405
    assert reader.get(f"/replies/{row.pk}/copy/").status_code == 405


def test_an_administrator_may_reply_to_any_mailbox(rig: Rig, tasks: Tasks) -> None:
    admin = User.objects.create_superuser("boss", "boss@example.test", "pw-boss-1")
    row = rig.reply(tasks, admin)
    assert row.author == admin and row.sent_copy == SentCopy.SAVED


def test_a_post_without_the_csrf_token_is_refused(rig: Rig) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(rig.reader)
    data = {"to": "alice@cust.test", "subject": "x", "format": "text", "body": "x"}
    assert client.post(f"/messages/{rig.message.pk}/reply/", data).status_code == 403
    assert not OutboxMessage.objects.exists()
    # With the token from the form, it goes through.
    page = client.get(f"/messages/{rig.message.pk}/reply/").content.decode()
    token = _field(page, "csrfmiddlewaretoken")
    data["csrfmiddlewaretoken"] = token
    assert client.post(f"/messages/{rig.message.pk}/reply/", data).status_code == 302


def test_line_breaks_in_the_subject_or_an_address_are_refused_at_the_field(rig: Rig) -> None:
    reader = rig.client(rig.reader)
    url = f"/messages/{rig.message.pk}/reply/"
    base = {"to": "alice@cust.test", "subject": "Re: x", "format": "text", "body": "Hi"}
    cases = [
        ({"subject": "Hi\r\nBcc: evil@x.test"}, "field-subject", "cannot contain line breaks"),
        ({"to": "alice@cust.test\r\nBcc: evil@x.test"}, "field-to", "cannot contain line breaks"),
        ({"cc": "bob@cust.test\nBcc: evil@x.test"}, "field-cc", "cannot contain line breaks"),
        ({"to": "alice@cust.test, not an address"}, "field-to", "is not an email address"),
        ({"to": ""}, "field-to", "This field is required"),
        ({"body": "   "}, "field-body", "Write a reply."),
    ]
    for change, field_id, error in cases:
        response = reader.post(url, {**base, **change})
        assert response.status_code == 200, change
        page = response.content.decode()
        start = page.index(f'id="{field_id}"')
        field = page[start : page.index('id="field-', start + 1)]
        errors = re.findall(r'<div class="error">([^<]*)</div>', field)
        assert any(error in text for text in errors), (change, errors)
        assert "Nothing was sent" in page
    assert not OutboxMessage.objects.exists()


def test_an_encoded_line_break_in_the_subject_adds_no_header(rig: Rig, tasks: Tasks) -> None:
    row = rig.reply(tasks, subject="=?UTF-8?Q?Hi=0ABcc:_evil@x.test?=")
    [mail] = rig.sink.accepted
    head = mail.data.split(b"\r\n\r\n", 1)[0]
    assert b"\nBcc:" not in head and head.count(b"\nSubject:") == 1
    assert "evil@x.test" not in mail.rcpt_tos
    assert parsed(mail)["Subject"] == "=?UTF-8?Q?Hi=0ABcc:_evil@x.test?="
    assert row.subject == "=?UTF-8?Q?Hi=0ABcc:_evil@x.test?="


def test_html_is_cleaned_and_sent_with_a_readable_text_part(rig: Rig, tasks: Tasks) -> None:
    markup = (
        "<p>Hello <b>Alice</b>,</p><script>alert('x')</script>"
        '<p onclick="steal()">check <a href="javascript:alert(1)">this</a> and '
        '<a href="https://help.example.test/toner">the guide</a></p>'
        '<img src="x" onerror="alert(2)"><ul><li>one</li><li><i>two</i></li></ul>'
        "<style>p{display:none}</style><iframe src=https://evil.test></iframe>"
    )
    row = rig.reply(tasks, format="html", body="", body_html=markup)
    [mail] = rig.sink.accepted
    sent = parsed(mail)
    assert sent.get_content_type() == "multipart/alternative"
    html_part, text_part = sent.get_body(("html",)), sent.get_body(("plain",))
    assert html_part is not None and text_part is not None
    sent_html = html_part.get_content()
    for bad in ("<script", "alert(", "onclick", "onerror", "javascript:", "<style", "<iframe"):
        assert bad not in sent_html, bad
        assert bad not in row.body_html
    assert "<b>Alice</b>" in sent_html and "<i>two</i>" in sent_html
    assert 'href="https://help.example.test/toner"' in sent_html
    assert "<blockquote" in sent_html and "the printer on floor 3 prints blank pages." in sent_html
    text = text_part.get_content().replace("\r\n", "\n")
    assert text.startswith(
        "Hello Alice,\n\ncheck this and the guide <https://help.example.test/toner>\n\n"
        "- one\n- two\n\nOn Tue, 3 Mar 2026"
    )
    assert "alert" not in text
    assert sent["In-Reply-To"] == QUESTION_ID


def test_html_that_is_empty_once_cleaned_is_refused(rig: Rig) -> None:
    response = rig.client(rig.reader).post(
        f"/messages/{rig.message.pk}/reply/",
        {
            "to": "alice@cust.test",
            "subject": "Re: x",
            "format": "html",
            "body_html": '<script>alert(1)</script><img src=x onerror="alert(2)">',
        },
    )
    page = response.content.decode()
    assert response.status_code == 200 and "Write a reply." in page
    assert not OutboxMessage.objects.exists()
    # The form shown again holds only what cleaning keeps, for the editor to show as markup.
    assert "onerror" not in page and "alert(" not in page


def test_without_the_quote_only_the_answer_goes_out(rig: Rig, tasks: Tasks) -> None:
    rig.reply(tasks, quote="")
    [mail] = rig.sink.accepted
    body = parsed(mail).get_body(("plain",))
    assert body is not None
    assert body.get_content().replace("\r\n", "\n") == (
        "Hello Alice,\n\nplease check the toner seal.\n\nSupport\n"
    )


def test_the_same_form_sent_twice_is_one_reply(rig: Rig, tasks: Tasks) -> None:
    reader = rig.client(rig.reader)
    url = f"/messages/{rig.message.pk}/reply/"
    page = reader.get(url).content.decode()
    message_id = _field(page, "message_id")
    data = {
        "to": "alice@cust.test",
        "subject": "Re: x",
        "format": "text",
        "body": "Hi",
        "message_id": message_id,
    }
    assert reader.post(url, data).status_code == 302
    assert reader.post(url, data).status_code == 302
    tasks.run()
    [row] = OutboxMessage.objects.all()
    assert row.message_id == message_id
    assert len(rig.sink.accepted) == 1
    # An id that is not ours for this conversation is replaced, never used.
    forged = {**data, "message_id": "<mr.999.0123456789abcdef.00@example.test>"}
    assert reader.post(url, forged).status_code == 302
    assert OutboxMessage.objects.exclude(pk=row.pk).get().message_id != forged["message_id"]


def test_another_reply_from_a_form_restored_by_going_back_is_sent_too(
    rig: Rig, tasks: Tasks
) -> None:
    reader = rig.client(rig.reader)
    url = f"/messages/{rig.message.pk}/reply/"
    message_id = _field(reader.get(url).content.decode(), "message_id")
    data = {"to": "alice@cust.test", "subject": "Re: x", "format": "text", "message_id": message_id}
    assert reader.post(url, {**data, "body": "First answer"}).status_code == 302
    assert reader.post(url, {**data, "body": "Second answer"}).status_code == 302
    tasks.run()
    rows = list(OutboxMessage.objects.order_by("id").values_list("body_text", "message_id"))
    assert [body for body, _ in rows] == ["First answer", "Second answer"]
    assert rows[0][1] == message_id and rows[1][1] != message_id
    assert len(rig.sink.accepted) == 2


def test_the_same_form_sent_twice_before_processing_is_one_reply(rig: Rig, tasks: Tasks) -> None:
    Message.objects.filter(pk=rig.message.pk).update(conversation=None)
    reader = rig.client(rig.reader)
    url = f"/messages/{rig.message.pk}/reply/"
    message_id = _field(reader.get(url).content.decode(), "message_id")
    data = {
        "to": "alice@cust.test",
        "subject": "Re: x",
        "format": "text",
        "body": "Hi",
        "message_id": message_id,
    }
    assert reader.post(url, data).status_code == 302
    assert reader.post(url, data).status_code == 302
    tasks.run()
    [row] = OutboxMessage.objects.all()
    assert row.message_id == message_id
    # A malformed id is replaced, not a server error.
    broken = {**data, "message_id": "<mr.1.0123456789abcdef.00@a b.example.test>"}
    assert reader.post(url, broken).status_code == 302
    assert OutboxMessage.objects.count() == 2


def test_a_mailbox_that_may_not_send_says_so_and_the_reply_waits(rig: Rig, tasks: Tasks) -> None:
    MailboxConnection.objects.filter(mailbox=rig.mailbox).update(smtp_enabled=False)
    page = rig.client(rig.reader).get(f"/messages/{rig.message.pk}/reply/").content.decode()
    assert 'id="smtp-off"' in page
    row = rig.reply(tasks)
    assert row.state == OutboxState.PENDING and rig.sink.messages == []
    assert "SMTP is disabled for this mailbox" in row.last_error


def test_mail_the_mailbox_sent_is_answered_to_its_recipients(rig: Rig) -> None:
    Message.objects.filter(pk=rig.message.pk).update(
        from_email="support@example.test",
        to=[{"name": "Alice Martin", "email": "alice@cust.test"}],
        reply_to=[],
    )
    page = rig.client(rig.reader).get(f"/messages/{rig.message.pk}/reply/").content.decode()
    assert _field(page, "to") == "alice@cust.test"


def test_a_reply_has_a_page_for_those_who_may_read_the_mailbox(rig: Rig, tasks: Tasks) -> None:
    row = rig.reply(tasks, cc="bob@cust.test")
    page = rig.client(rig.reader).get(f"/replies/{row.pk}/").content.decode()
    assert "<dt>Written by</dt><dd>reader" in page
    assert "<dt>Cc</dt><dd>bob@cust.test</dd>" in page
    assert "please check the toner seal." in page and "&gt; the printer on floor 3" in page
    assert 'class="badge ok">In Sent' in page
    listing = rig.client(rig.reader).get(f"/messages/{rig.message.pk}/reply/").content.decode()
    assert f'href="/replies/{row.pk}/"' in listing
    assert rig.client(rig.stranger).get(f"/replies/{row.pk}/").status_code == 404
    assert rig.client(rig.reader).get("/replies/999999/").status_code == 404
