"""The message page: its sender's Contact, its conversation's marks, what processing did, and
"Process again" for those who may change the mailbox."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from mailroom.mailboxes.actions import set_access
from mailroom.models import (
    AutoResponseRule,
    Case,
    Conversation,
    EmailTemplate,
    EmailTemplateTranslation,
    Mailbox,
    Message,
    MessageRead,
    OutboxMessage,
    ProcessingRecord,
    ProcessingState,
)
from mailroom.pipeline import engine
from mailroom.pipeline.processors import case as case_module
from mailroom.tasks import jobs
from mailroom.web.health import when
from mailroom.web.views import messages as message_views
from tests.pipeline.clock import Clock, install_clock
from tests.pipeline.helpers import mailbox as make_mailbox
from tests.pipeline.helpers import stored

pytestmark = pytest.mark.django_db


@pytest.fixture
def mailbox() -> Mailbox:
    """A mailbox that makes a Case of each message and answers every sender."""
    box = make_mailbox("case")
    template = EmailTemplate.objects.create(name="thanks")
    EmailTemplateTranslation.objects.create(
        template=template, language="en", subject="Thanks", body="Got it."
    )
    AutoResponseRule.objects.create(mailbox=box, name="All", template=template)
    return box


@pytest.fixture
def message(mailbox: Mailbox) -> Message:
    return stored(mailbox)


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin() -> Client:
    return _client(User.objects.create_user("alice", password="x", is_staff=True))


@pytest.fixture
def member(mailbox: Mailbox) -> Client:
    user = User.objects.create_user("bob", password="x")
    set_access(mailbox, user_ids=[user.pk], group_ids=[])
    return _client(user)


@pytest.fixture
def stranger() -> Client:
    return _client(User.objects.create_user("charlie", password="x"))


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return install_clock(monkeypatch)


@pytest.fixture
def crm_down(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> Case:
        raise RuntimeError("the CRM is down")

    monkeypatch.setattr(case_module, "create_case_from_message", refuse)


def _page(client: Client, message: Message) -> str:
    response = client.get(f"/messages/{message.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def _section(page: str, element_id: str) -> str:
    return page.split(f'id="{element_id}"', 1)[1].split("</dd>", 1)[0]


def test_it_shows_a_failed_attempt_and_when_the_next_one_is_due(
    crm_down: None, member: Client, message: Message
) -> None:
    engine.process_message(message.pk)
    record = ProcessingRecord.objects.get()
    assert record.retry_at is not None

    page = _page(member, message)

    assert "RuntimeError: the CRM is down" in _section(page, "processing-error")
    attempts = _section(page, "processing-attempts")
    assert f"1 of {engine.MAX_ATTEMPTS}; next attempt at {when(record.retry_at)}" in attempts
    steps = page.split('id="steps"', 1)[1].split("</table>", 1)[0]
    assert steps.count("rolled back; runs again on retry") == 2  # classify and thread
    assert '<span class="problem">error</span>' in steps


def test_it_says_when_processing_failed_for_good(
    crm_down: None, clock: Clock, member: Client, message: Message
) -> None:
    for _ in range(engine.MAX_ATTEMPTS):
        engine.process_message(message.pk)
        clock.advance(timedelta(hours=3))

    page = _page(member, message)

    attempts = _section(page, "processing-attempts")
    assert f"failed for good after {engine.MAX_ATTEMPTS} attempts" in attempts
    assert "next attempt" not in attempts
    assert "runs again on retry" not in page


def test_it_shows_nothing_of_errors_for_a_processed_message(
    member: Client, message: Message
) -> None:
    engine.process_message(message.pk)

    page = _page(member, message)

    assert "Processed" in _section(page, "processing-state")
    assert 'id="processing-error"' not in page and "rolled back" not in page


def test_it_links_the_senders_contact_and_shows_the_conversations_marks(
    member: Client, message: Message
) -> None:
    engine.process_message(message.pk)
    message.refresh_from_db()
    assert message.contact_id is not None
    Conversation.objects.update(marks=["out of office", "delivery failed"])

    page = _page(member, message)

    assert f'href="/contacts/{message.contact_id}/"' in _section(page, "from")
    marks = _section(page, "marks")
    assert '<span class="badge mark">out of office</span>' in marks
    assert '<span class="badge mark">delivery failed</span>' in marks


def test_it_shows_no_contact_link_nor_marks_before_processing(
    member: Client, message: Message
) -> None:
    page = _page(member, message)

    assert "/contacts/" not in page
    assert 'id="marks"' not in page


def test_it_offers_process_again_to_administrators_with_what_it_does(
    admin: Client, message: Message
) -> None:
    engine.process_message(message.pk)

    page = _page(admin, message)

    form = page.split('id="reprocess"', 1)[1].split("</form>", 1)[0]
    assert f'action="/messages/{message.pk}/reprocess/"' in page
    assert 'method="post"' in page.split('id="reprocess"', 1)[0].rsplit("<form", 1)[1]
    assert "csrfmiddlewaretoken" in form
    assert "Process again" in form
    assert "joins that conversation's Lead or Case" in form
    assert "is not sent again" in form


def test_it_offers_no_process_again_to_a_reader(member: Client, message: Message) -> None:
    engine.process_message(message.pk)

    page = _page(member, message)

    assert "Process again" not in page and "/reprocess/" not in page


def test_process_again_resets_the_record_and_processes_the_message_once_more(
    crm_down: None,
    monkeypatch: pytest.MonkeyPatch,
    admin: Client,
    message: Message,
    enqueued: list[tuple[object, ...]],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    for _ in range(engine.MAX_ATTEMPTS):
        ProcessingRecord.objects.update(retry_at=None)  # as if each backoff had passed
        engine.process_message(message.pk)
    assert ProcessingRecord.objects.get().state == ProcessingState.FAILED
    monkeypatch.undo()  # the CRM is back

    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(f"/messages/{message.pk}/reprocess/", follow=True)

    assert response.redirect_chain == [(f"/messages/{message.pk}/", 302)]
    assert "Processing requested" in response.content.decode()
    record = ProcessingRecord.objects.get()
    assert (record.state, record.attempts, record.retry_at, record.error) == (
        ProcessingState.PENDING,
        0,
        None,
        "",
    )
    assert enqueued == [("process_messages", (message.pk,))]

    # The worker runs the task it was given.
    jobs.process_messages(*enqueued[0][1:])  # type: ignore[arg-type]

    record.refresh_from_db()
    assert record.state == ProcessingState.DONE
    assert record.attempts == 1
    assert record.case == Case.objects.get()
    assert OutboxMessage.objects.count() == 1
    assert "Processed" in _section(_page(admin, message), "processing-state")


def test_process_again_on_a_processed_message_queues_no_second_reply(
    admin: Client,
    message: Message,
    enqueued: list[tuple[object, ...]],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    engine.process_message(message.pk)
    assert OutboxMessage.objects.count() == 1
    enqueued.clear()

    with django_capture_on_commit_callbacks(execute=True):
        assert admin.post(f"/messages/{message.pk}/reprocess/").status_code == 302
    assert enqueued == [("process_messages", (message.pk,))]
    jobs.process_messages((message.pk,))

    record = ProcessingRecord.objects.get()
    assert record.state == ProcessingState.DONE
    assert Case.objects.count() == 1
    assert OutboxMessage.objects.count() == 1
    assert record.steps[-1]["detail"] == "All: this message was answered already"


@pytest.mark.parametrize("persona", ["member", "stranger"])
def test_process_again_is_no_such_page_for_anyone_who_may_not_change_the_mailbox(
    persona: str,
    request: pytest.FixtureRequest,
    crm_down: None,
    message: Message,
    enqueued: list[tuple[object, ...]],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    engine.process_message(message.pk)
    before = ProcessingRecord.objects.values().get()
    client: Client = request.getfixturevalue(persona)

    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/messages/{message.pk}/reprocess/").status_code == 404

    assert ProcessingRecord.objects.values().get() == before
    assert enqueued == []


def test_process_again_takes_a_post_with_a_csrf_token_only(admin: Client, message: Message) -> None:
    assert admin.get(f"/messages/{message.pk}/reprocess/").status_code == 405
    guarded = Client(enforce_csrf_checks=True)
    guarded.force_login(User.objects.get(username="alice"))
    assert guarded.post(f"/messages/{message.pk}/reprocess/").status_code == 403


REPLY = (
    b"From: Alice Martin <alice@customer.test>\r\n"
    b"To: support@example.test\r\n"
    b"Subject: Re: Broken printer\r\n"
    b"Message-ID: <p-2@customer.test>\r\n"
    b"In-Reply-To: <p-1@customer.test>\r\n"
    b"References: <p-1@customer.test>\r\n"
    b"Date: Wed, 02 Dec 2026 10:00:00 +0000\r\n"
    b"\r\n"
    b"Still broken.\r\n"
)


def test_it_shows_the_conversation_and_its_case(
    mailbox: Mailbox, member: Client, message: Message
) -> None:
    engine.process_message(message.pk)
    reply = stored(mailbox, REPLY)
    engine.process_message(reply.pk)
    case = Case.objects.get()

    page = _page(member, reply)

    conversation = page.split('id="conversation"', 1)[1].split("</ol>", 1)[0]
    assert "Conversation (2 messages)" in conversation
    assert f'<a href="/messages/{message.pk}/"><bdi>Broken printer</bdi></a>' in conversation
    assert "<strong><bdi>Re: Broken printer</bdi></strong>" in conversation
    records = _section(page, "records")
    assert f'href="/cases/{case.pk}/"' in records
    assert "Broken printer" in records


def test_a_message_alone_in_its_conversation_lists_no_conversation(
    member: Client, message: Message
) -> None:
    engine.process_message(message.pk)
    assert 'id="conversation"' not in _page(member, message)


def test_it_offers_reply_and_the_raw_message(member: Client, message: Message) -> None:
    page = _page(member, message)

    assert f'<a class="btn" id="reply" href="/messages/{message.pk}/reply/">Reply</a>' in page
    assert f'href="/messages/{message.pk}/raw/"' in page


def test_opening_a_message_reads_it_for_that_person_only(
    admin: Client, member: Client, message: Message
) -> None:
    _page(member, message)
    _page(member, message)

    readers = list(MessageRead.objects.filter(message=message).values_list("user__username"))
    assert readers == [("bob",)]


def test_a_stranger_does_not_read_it_by_trying(stranger: Client, message: Message) -> None:
    assert stranger.get(f"/messages/{message.pk}/").status_code == 404
    assert not MessageRead.objects.exists()


def test_attachments_are_download_links(mailbox: Mailbox, member: Client) -> None:
    raw = (
        b"From: a@customer.test\r\nTo: support@example.test\r\nSubject: Files\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n"
        b'--b\r\nContent-Type: application/pdf; name="r.pdf"\r\n'
        b'Content-Disposition: attachment; filename="<b>r</b>.pdf"\r\n\r\n%PDF-1.4\r\n--b--\r\n'
    )
    message = stored(mailbox, raw)
    attachment = message.attachments.get()

    page = _page(member, message)

    attachments = page.split('id="attachments"', 1)[1].split("</ul>", 1)[0]
    assert (
        f'<a href="/attachments/{attachment.pk}/" download><bdi>&lt;b&gt;r&lt;/b&gt;.pdf</bdi></a>'
        in attachments
    )


def test_mark_unread_returns_to_the_list_with_the_message_unread_again(
    mailbox: Mailbox, member: Client, message: Message
) -> None:
    page = _page(member, message)
    assert MessageRead.objects.filter(message=message).exists()
    form = page.split('id="mark-unread"', 1)[1].split("</form>", 1)[0]
    list_url = f"/mailboxes/{mailbox.pk}/mail/"
    assert f'action="/mailboxes/{mailbox.pk}/mail/mark/"' in page
    assert f'<input type="hidden" name="message" value="{message.pk}">' in form
    assert f'href="{list_url}">← {mailbox.label}</a>' in page

    response = member.post(
        f"/mailboxes/{mailbox.pk}/mail/mark/",
        {"message": message.pk, "action": "unread", "next": list_url},
    )

    assert response.status_code == 302
    assert response["Location"] == list_url
    assert not MessageRead.objects.filter(message=message).exists()


def test_a_long_conversation_lists_its_first_messages(
    mailbox: Mailbox, member: Client, message: Message, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(message_views, "CONVERSATION_SHOWN", 1)
    engine.process_message(message.pk)
    reply = stored(mailbox, REPLY)
    engine.process_message(reply.pk)

    conversation = _page(member, reply).split('id="conversation"', 1)[1].split("</ol>", 1)[0]

    assert "Conversation (2 messages)" in conversation
    assert "The first 1 are listed." in conversation
    assert conversation.count("<li") == 1
