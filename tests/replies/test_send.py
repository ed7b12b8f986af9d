"""A reply written in mailroom reaches the customer threaded, from the mailbox, through its
SMTP server; the customer's answer joins the conversation; the copy lands in Sent; the Case
notes it."""

from __future__ import annotations

from prometheus_client import REGISTRY

from mailroom.conversations.ids import signed_conversation
from mailroom.models import Case, Message, OutboxMessage, OutboxState, RecordChange, SentCopy
from tests.autoresponse.helpers import add_rule, person
from tests.replies.conftest import CUSTOMER, QUESTION_ID, Rig, Tasks, parsed, sync


def test_it_sends_the_reply_threaded_from_the_mailbox(rig: Rig, tasks: Tasks) -> None:
    row = rig.reply(tasks)
    assert ("send_outbox", (row.pk,)) in tasks.ran
    assert row.state == OutboxState.SENT, row.last_error
    [mail] = rig.sink.accepted
    # From the mailbox, to the customer, in one transaction through the mailbox's server.
    assert mail.mail_from == "support@example.test"
    assert mail.rcpt_tos == [CUSTOMER]
    assert mail.auth_login == rig.account.username
    sent = parsed(mail)
    assert sent["From"] == "Support <support@example.test>"
    assert sent["To"] == CUSTOMER
    assert sent["Subject"] == "Re: Printer prints blank pages"
    assert sent["In-Reply-To"] == QUESTION_ID
    assert sent["References"].split() == [
        "<root.1@cust.test>",
        "<older.2@cust.test>",
        QUESTION_ID,
    ]
    # Our own Message-ID, signed, naming the conversation: the answer finds its way back.
    assert sent["Message-ID"] == row.message_id
    assert signed_conversation(row.message_id) == rig.message.conversation_id
    # A person's reply is not marked automatic: the customer's own autoresponder may answer.
    for header in ("Auto-Submitted", "Precedence", "X-Mailroom-Loop", "Bcc"):
        assert header not in sent
    body = sent.get_body(("plain",))
    assert body is not None
    text = body.get_content().replace("\r\n", "\n")
    assert text.startswith("Hello Alice,\n\nplease check the toner seal.\n\nSupport\n\n")
    assert "On Tue, 3 Mar 2026 at 10:15, Alice Martin <alice@cust.test> wrote:\n" in text
    assert "> the printer on floor 3 prints blank pages.\n>\n> Alice" in text
    assert not sent.is_multipart()
    assert row.author == rig.reader and row.body_text.startswith("Hello Alice")


def test_the_customers_answer_joins_the_conversation(rig: Rig, tasks: Tasks) -> None:
    row = rig.reply(tasks)
    # Alice's mail program answers our reply; she changed the subject.
    answer = (
        "From: Alice Martin <alice@cust.test>\r\n"
        "To: support@example.test\r\n"
        "Subject: still blank\r\n"
        "Message-ID: <a2.9c1@cust.test>\r\n"
        f"In-Reply-To: {row.message_id}\r\n"
        f"References: {QUESTION_ID} {row.message_id}\r\n"
        "Date: Tue, 03 Mar 2026 11:00:00 +0000\r\n"
        "\r\n"
        "The seal was off already. Still blank.\r\n"
    ).encode()
    rig.account.deliver(answer)
    sync()
    stored = Message.objects.get(message_id="<a2.9c1@cust.test>")
    assert stored.conversation_id == rig.message.conversation_id
    # It joins the Case rather than opening a second one.
    assert Case.objects.count() == 1


def test_the_reply_is_copied_to_the_special_use_sent_folder_as_seen(rig: Rig, tasks: Tasks) -> None:
    row = rig.reply(tasks)
    assert row.sent_copy == SentCopy.SAVED, row.sent_copy_error
    assert row.sent_copy_folder == "Sent"
    [(raw, flags)] = rig.sent_folder("Sent")
    assert b"\\Seen" in flags
    assert raw == bytes(row.raw)
    # Recorded on the Case of the conversation, by the person who wrote it.
    [note] = RecordChange.objects.filter(case__conversation=rig.message.conversation_id)
    assert note.user == rig.reader
    assert note.new == "Reply sent by reader: Re: Printer prints blank pages"
    case = Case.objects.get()
    page = rig.client(rig.reader).get(f"/cases/{case.pk}/").content.decode()
    assert "Reply sent by reader: Re: Printer prints blank pages" in page


def test_an_autoresponse_is_not_copied_to_sent(rig: Rig, tasks: Tasks) -> None:
    add_rule(rig.mailbox)
    rig.account.append("INBOX", person(subject="Toner order"))
    sync()
    [auto] = OutboxMessage.objects.filter(rule__isnull=False)
    assert auto.state == OutboxState.SENT and auto.sent_copy == SentCopy.NONE
    assert len(rig.sink.accepted) == 1
    assert rig.sent_folder("Sent") == []
    response = rig.client(rig.reader).get(f"/replies/{auto.pk}/")
    assert response.status_code == 302 and response["Location"] == f"/answers/{auto.pk}/"
    # The written reply is copied; the autoresponse stays out of Sent.
    row = rig.reply(tasks)
    assert row.sent_copy == SentCopy.SAVED
    [(raw, _flags)] = rig.sent_folder("Sent")
    assert raw == bytes(row.raw)


def test_it_sends_to_every_to_and_cc_address_at_once(rig: Rig, tasks: Tasks) -> None:
    row = rig.reply(
        tasks,
        to="alice@cust.test, Carol Ng <carol@cust.test>",
        cc="bob@cust.test; dave@partner.test",
    )
    assert row.state == OutboxState.SENT, row.last_error
    [mail] = rig.sink.accepted
    assert mail.rcpt_tos == [
        "alice@cust.test",
        "carol@cust.test",
        "bob@cust.test",
        "dave@partner.test",
    ]
    sent = parsed(mail)
    assert sent["To"] == "alice@cust.test, carol@cust.test"
    assert sent["Cc"] == "bob@cust.test, dave@partner.test"
    assert row.to_email == "alice@cust.test, carol@cust.test"
    assert row.cc == ["bob@cust.test", "dave@partner.test"]


def _answered() -> float:
    return REGISTRY.get_sample_value("mailroom_replies_sent_total") or 0.0


def test_a_written_reply_is_not_counted_as_an_autoresponse(rig: Rig, tasks: Tasks) -> None:
    before = _answered()
    row = rig.reply(tasks)
    assert row.state == OutboxState.SENT
    assert _answered() == before
    # An autoresponse is.
    add_rule(rig.mailbox)
    rig.account.append("INBOX", person(subject="Toner order"))
    sync()
    assert _answered() == before + 1
