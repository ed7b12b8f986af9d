"""The message list of a mailbox: conversations or messages, newest first, keyset pages,
search, filters and unread state per person; only for people who may read the mailbox."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from mailroom.mailboxes.actions import set_access, set_folders
from mailroom.models import (
    Conversation,
    Folder,
    Lead,
    Mailbox,
    Message,
    MessageRead,
    OutboxMessage,
    OutboxState,
    ProcessingRecord,
)
from mailroom.pipeline import engine
from mailroom.reading.listing import PAGE_SIZE
from mailroom.reading.unread import mark_read
from tests.autoresponse.helpers import add_rule
from tests.pipeline.helpers import mailbox as make_mailbox
from tests.storing import store_one

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
_uid = iter(range(1, 1_000_000))


def _raw(
    subject: str,
    *,
    sender: str = "alice@customer.test",
    name: str = "Alice Martin",
    body: str = "Hello.",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    headers: str = "",
) -> bytes:
    lines = [
        f"Return-Path: <{sender}>",
        f"From: {name} <{sender}>",
        "To: support@example.test",
        f"Subject: {subject}",
        f"Message-ID: {message_id or f'<{next(_uid)}.list@customer.test>'}",
    ]
    if in_reply_to:
        lines += [f"In-Reply-To: {in_reply_to}", f"References: {in_reply_to}"]
    if headers:
        lines += headers.split("\n")
    lines += ["Content-Type: text/plain; charset=utf-8", "", body, ""]
    return "\r\n".join(lines).encode()


def _store(
    mailbox: Mailbox, raw: bytes, minutes: int, folder: str = "INBOX", *, process: bool = False
) -> Message:
    message = store_one(
        mailbox.folders.get(name=folder),
        next(_uid),
        raw,
        internal_date=START + timedelta(minutes=minutes),
    )
    assert message is not None
    if process:
        engine.process_message(message.pk)
        message.refresh_from_db()
    return message


@pytest.fixture
def mailbox() -> Mailbox:
    box = make_mailbox("case")
    set_folders(box, known=["INBOX", "Archive"], selected=["INBOX", "Archive"])
    return box


@pytest.fixture
def reader(mailbox: Mailbox) -> User:
    user = User.objects.create_user("bob", password="x")
    set_access(mailbox, user_ids=[user.pk], group_ids=[])
    return user


@pytest.fixture(params=["rare", "common"])
def plan(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test with searches and record filters taken as rare (the matches lead) and as
    common (the list is read in order, each row tested): both must find the same mail."""
    if request.param == "common":
        monkeypatch.setattr("mailroom.reading.search.COMMON", 1)
        monkeypatch.setattr("mailroom.reading.listing.COMMON", 1)
    return str(request.param)


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def member(reader: User) -> Client:
    return _client(reader)


@pytest.fixture
def admin() -> Client:
    return _client(User.objects.create_user("alice", password="x", is_staff=True))


@pytest.fixture
def stranger() -> Client:
    return _client(User.objects.create_user("carol", password="x"))


def _list(client: Client, mailbox: Mailbox, **params: str) -> str:
    response = client.get(f"/mailboxes/{mailbox.pk}/mail/", params)
    assert response.status_code == 200
    return response.content.decode()


def _rows(page: str) -> list[int]:
    """The message ids of the rows, top to bottom."""
    return [int(pk) for pk in re.findall(r'<li class="mail-row[^"]*" data-message="(\d+)"', page)]


def _unread_rows(page: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<li class="mail-row unread" data-message="(\d+)"', page)]


def _link(page: str, element_id: str) -> str | None:
    found = re.search(rf'href="([^"]+)" id="{element_id}"', page)
    return found.group(1).replace("&amp;", "&") if found else None


# Access


def test_it_shows_the_mail_to_an_administrator_and_a_reader(
    admin: Client, member: Client, mailbox: Mailbox
) -> None:
    message = _store(mailbox, _raw("Printer on fire"), 1)
    for client in (admin, member):
        page = _list(client, mailbox)
        assert _rows(page) == [message.pk]
        assert "Printer on fire" in page


def test_it_hides_the_list_from_a_stranger_as_if_the_mailbox_did_not_exist(
    stranger: Client, mailbox: Mailbox
) -> None:
    message = _store(mailbox, _raw("Secret merger plans"), 1)
    for params in ({}, {"view": "messages"}, {"q": "merger"}, {"before": f"1_{message.pk}"}):
        response = stranger.get(f"/mailboxes/{mailbox.pk}/mail/", params)
        assert response.status_code == 404
        assert b"Secret merger" not in response.content
    response = stranger.post(
        f"/mailboxes/{mailbox.pk}/mail/mark/", {"action": "read", "message": message.pk}
    )
    assert response.status_code == 404
    assert not MessageRead.objects.exists()
    assert Client().get(f"/mailboxes/{mailbox.pk}/mail/").status_code == 302


def test_it_never_marks_mail_of_another_mailbox(member: Client, mailbox: Mailbox) -> None:
    other = make_mailbox()
    theirs = store_one(other.folders.get(), 1, _raw("Not yours"))
    assert theirs is not None
    member.post(f"/mailboxes/{mailbox.pk}/mail/mark/", {"action": "read", "message": theirs.pk})
    assert not MessageRead.objects.exists()


# Order and pages


def test_it_pages_through_every_message_newest_first_without_offsets(
    member: Client, mailbox: Mailbox
) -> None:
    total = PAGE_SIZE * 2 + 7
    # Stored out of order, and two at the same minute: arrival decides, then the id.
    minutes = [*range(total - 1, 0, -1), 1]
    ids = [_store(mailbox, _raw(f"Mail {m}"), m).pk for m in minutes]
    newest_first = sorted(ids, key=lambda pk: (minutes[ids.index(pk)], pk), reverse=True)

    seen: list[int] = []
    pages = []
    url: str | None = f"/mailboxes/{mailbox.pk}/mail/?view=messages"
    while url is not None:
        with CaptureQueriesContext(connection) as queries:
            page = member.get(url).content.decode()
        assert not any("OFFSET" in q["sql"].upper() for q in queries.captured_queries)
        assert not any(
            "COUNT(" in q["sql"].upper() and "conversation" not in q["sql"]
            for q in queries.captured_queries
        )
        pages.append(page)
        seen += _rows(page)
        url = _link(page, "older")
    assert seen == newest_first
    assert [len(_rows(p)) for p in pages] == [PAGE_SIZE, PAGE_SIZE, 7]
    assert _link(pages[0], "newer") is None

    # "← Newer" from the last page leads back to the second.
    back = _link(pages[2], "newer")
    assert back is not None
    assert _rows(member.get(back).content.decode()) == _rows(pages[1])
    # And from the second, to a full first page.
    first = _link(pages[1], "newer")
    assert first is not None
    assert _rows(member.get(first).content.decode()) == _rows(pages[0])


def test_it_says_a_broken_page_link_is_not_valid_and_shows_the_newest_mail(
    member: Client, mailbox: Mailbox
) -> None:
    message = _store(mailbox, _raw("Only one"), 1)
    for cursor in ("nonsense", "1_", "999999999999999999999_1", "-1_-1", "1_2_3"):
        page = _list(member, mailbox, before=cursor)
        assert "That page link is not valid" in page
        assert _rows(page) == [message.pk]


def test_it_shows_each_conversation_once_as_its_newest_message(
    member: Client, mailbox: Mailbox
) -> None:
    first = _store(mailbox, _raw("Printer on fire", message_id="<a1@c.test>"), 1, process=True)
    other = _store(mailbox, _raw("Invoice", sender="bo@c.test", name="Bo"), 2, process=True)
    reply = _store(
        mailbox,
        _raw("Re: Printer on fire", in_reply_to="<a1@c.test>", message_id="<a2@c.test>"),
        3,
        process=True,
    )
    assert first.conversation_id == reply.conversation_id != other.conversation_id

    page = _list(member, mailbox)
    assert _rows(page) == [reply.pk, other.pk]
    row = page.split(f'data-message="{reply.pk}"', 1)[1].split("</li>", 1)[0]
    assert 'title="2 messages in this conversation"' in row
    assert f'name="conversation" value="{reply.conversation_id}"' in row

    messages_page = _list(member, mailbox, view="messages")
    assert _rows(messages_page) == [reply.pk, other.pk, first.pk]


# Search


@pytest.fixture
def corpus(mailbox: Mailbox) -> dict[str, Message]:
    return {
        "printer": _store(mailbox, _raw("Printer on fire", body="Smoke everywhere."), 1),
        "invoice": _store(
            mailbox,
            _raw(
                "Invoice 2291",
                sender="billing@acme-corp.test",
                name="Jörg Müller",
                body="Please pay (by Friday) — 50% off!",
            ),
            2,
        ),
        "html": _store(
            mailbox,
            b"From: news@shop.test\r\nSubject: Weekly deals\r\nMessage-ID: <h@shop.test>\r\n"
            b"Content-Type: text/html; charset=utf-8\r\n\r\n"
            b"<p>Discounted <b>umbrellas</b> this week</p>\r\n",
            3,
        ),
        "japanese": _store(mailbox, _raw("東京 meeting", body="会議は明日です"), 4),
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("printer", ["printer"]),
        ("PRINTER fire", ["printer"]),
        ("print", ["printer"]),  # the last word matches as the start of a word
        ("smoke", ["printer"]),
        ("müller", ["invoice"]),
        ("billing@acme-corp.test", ["invoice"]),
        ("acme", ["invoice"]),
        ('"by friday"', ["invoice"]),
        ('"friday by"', []),
        ("umbrellas", ["html"]),  # an HTML-only body is searched too
        ("東京", ["japanese"]),
        ("printer invoice", []),  # every word must match
        ("nothing-like-this", []),
    ],
)
def test_it_finds_mail_by_subject_sender_and_text(
    plan: str,
    member: Client,
    mailbox: Mailbox,
    corpus: dict[str, Message],
    text: str,
    expected: list[str],
) -> None:
    page = _list(member, mailbox, view="messages", q=text)
    assert _rows(page) == [corpus[name].pk for name in reversed(expected)] or sorted(
        _rows(page)
    ) == sorted(corpus[name].pk for name in expected)
    assert 'id="list-problems"' not in page
    if not expected:
        assert "No mail matches." in page


@pytest.mark.parametrize("text", ["Muller", "muller", "Müller", "jorg mull", '"Jorg Muller"'])
def test_diacritics_do_not_matter_in_either_shape(
    member: Client, mailbox: Mailbox, corpus: dict[str, Message], text: str
) -> None:
    """FTS5 folds them (remove_diacritics 2), PostgreSQL through mailroom_unaccent (migration
    0016): typed with or without them, "Jörg Müller" is found."""
    assert _rows(_list(member, mailbox, view="messages", q=text)) == [corpus["invoice"].pk]


@pytest.mark.parametrize(
    "text",
    [
        '"',
        '""',
        "*",
        "printer*",
        "NEAR(printer fire)",
        "printer NEAR fire",
        "-printer",
        "printer NOT fire",
        "printer OR invoice",
        "AND",
        "(((",
        "subject:printer",
        "{subject}: x",
        "^printer",
        "'; DROP TABLE mailroom_message; --",
        "\\",
        "\x00printer",
        "💥 🔥",
        "%_%",
        "p" * 150,
    ],
)
def test_it_treats_every_search_as_words_never_as_syntax(
    member: Client, mailbox: Mailbox, corpus: dict[str, Message], text: str
) -> None:
    response = member.get(f"/mailboxes/{mailbox.pk}/mail/", {"q": text, "view": "messages"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "The search could not be run" not in page
    assert Message.objects.filter(mailbox=mailbox).count() == len(corpus)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("printer*", ["printer"]),
        ("-printer", ["printer"]),
        ("(printer)", ["printer"]),
        ("printer OR invoice", []),  # OR is a word to find, like any other
        ("near(printer fire)", []),
        ('50% "off!"', ["invoice"]),
        ("pay (by", ["invoice"]),
    ],
)
def test_operators_are_words_to_find(
    plan: str,
    member: Client,
    mailbox: Mailbox,
    corpus: dict[str, Message],
    text: str,
    expected: list[str],
) -> None:
    page = _list(member, mailbox, view="messages", q=text)
    assert _rows(page) == [corpus[name].pk for name in expected]


def test_it_says_when_there_is_no_word_to_search_for(
    member: Client, mailbox: Mailbox, corpus: dict[str, Message]
) -> None:
    page = _list(member, mailbox, q="(((")
    assert "There is no word to search for" in page
    assert _rows(page) == []


def test_it_explains_a_search_that_is_too_long(member: Client, mailbox: Mailbox) -> None:
    _store(mailbox, _raw("Printer"), 1)
    page = _list(member, mailbox, q="printer " * 40)
    assert "Search for at most 200 characters." in page
    assert _rows(page) == []
    page = _list(member, mailbox, q=" ".join(f"w{n}" for n in range(20)))
    assert "at most 12 words" in page


def test_a_changed_or_deleted_message_changes_what_search_finds(
    member: Client, mailbox: Mailbox
) -> None:
    message = _store(mailbox, _raw("Printer on fire"), 1)
    Message.objects.filter(pk=message.pk).update(subject="Toner low")
    assert _rows(_list(member, mailbox, q="toner")) == [message.pk]
    assert _rows(_list(member, mailbox, q="printer")) == []
    Message.objects.filter(pk=message.pk).delete()
    assert _rows(_list(member, mailbox, q="toner")) == []


def test_it_finds_only_mail_of_this_mailbox(member: Client, mailbox: Mailbox) -> None:
    other = make_mailbox()
    store_one(other.folders.get(), 1, _raw("Printer elsewhere"))
    mine = _store(mailbox, _raw("Printer here"), 1)
    assert _rows(_list(member, mailbox, q="printer")) == [mine.pk]


def test_a_search_in_conversations_shows_the_conversation_where_it_matched(
    plan: str, member: Client, mailbox: Mailbox
) -> None:
    first = _store(
        mailbox, _raw("Printer", body="serial 4711", message_id="<s1@c.test>"), 1, process=True
    )
    reply = _store(mailbox, _raw("Re: Printer", in_reply_to="<s1@c.test>"), 2, process=True)
    assert first.conversation_id == reply.conversation_id
    assert _rows(_list(member, mailbox, q="4711")) == [first.pk]
    assert _rows(_list(member, mailbox, q="printer")) == [reply.pk]


# Filters


def test_it_filters_by_folder(member: Client, mailbox: Mailbox) -> None:
    inbox = _store(mailbox, _raw("In the inbox"), 1)
    archived = _store(mailbox, _raw("Archived"), 2, folder="Archive")
    archive = Folder.objects.get(mailbox=mailbox, name="Archive")
    assert _rows(_list(member, mailbox, folder=str(archive.pk))) == [archived.pk]
    inbox_folder = Folder.objects.get(mailbox=mailbox, name="INBOX")
    assert _rows(_list(member, mailbox, folder=str(inbox_folder.pk))) == [inbox.pk]
    foreign = make_mailbox().folders.get()
    page = _list(member, mailbox, folder=str(foreign.pk))
    assert "not one of this mailbox" in page
    assert _rows(page) == [archived.pk, inbox.pk]


def test_it_filters_by_lead_and_case(plan: str, member: Client, mailbox: Mailbox) -> None:
    with_case = _store(mailbox, _raw("Broken"), 1, process=True)
    assert with_case.conversation is not None and hasattr(with_case.conversation, "case")
    plain = _store(mailbox, _raw("Just a note"), 2)
    conversation = Conversation.objects.create(mailbox=mailbox, subject="Quote")
    with_lead = _store(mailbox, _raw("Quote please"), 3)
    Message.objects.filter(pk=with_lead.pk).update(conversation=conversation)
    Lead.objects.create(name="Ann", conversation=conversation)

    assert _rows(_list(member, mailbox, view="messages", has="case")) == [with_case.pk]
    assert _rows(_list(member, mailbox, view="messages", has="lead")) == [with_lead.pk]
    page = _list(member, mailbox, view="messages")
    assert _rows(page) == [with_lead.pk, plain.pk, with_case.pk]
    assert "badge lead" in page.split(f'data-message="{with_lead.pk}"', 1)[1].split("</li>")[0]
    assert "badge case" in page.split(f'data-message="{with_case.pk}"', 1)[1].split("</li>")[0]


def test_it_filters_automatic_and_answered_mail_answered_by_a_person(
    plan: str, member: Client, mailbox: Mailbox
) -> None:
    robot = _store(mailbox, _raw("Out of office"), 1)
    ProcessingRecord.objects.filter(message=robot).update(automated_reason="Auto-Submitted")
    person = _store(mailbox, _raw("Question"), 2)
    answered = _store(mailbox, _raw("Another question"), 3)
    OutboxMessage.objects.create(
        mailbox=mailbox,
        in_reply_to=answered,
        message_id="<ans@example.test>",
        to_email="alice@customer.test",
        raw=b"",
        state=OutboxState.SENT,
    )
    OutboxMessage.objects.create(
        mailbox=mailbox,
        in_reply_to=person,
        message_id="<failed@example.test>",
        to_email="alice@customer.test",
        raw=b"",
        state=OutboxState.FAILED,
    )
    # An autoresponse only acknowledges: the mail still waits for a person's answer.
    OutboxMessage.objects.create(
        mailbox=mailbox,
        in_reply_to=person,
        rule=add_rule(mailbox),
        message_id="<auto@example.test>",
        to_email="alice@customer.test",
        raw=b"",
        state=OutboxState.SENT,
    )
    view = {"view": "messages"}
    assert _rows(_list(member, mailbox, automatic="1", **view)) == [robot.pk]
    assert _rows(_list(member, mailbox, automatic="0", **view)) == [answered.pk, person.pk]
    assert _rows(_list(member, mailbox, answered="1", **view)) == [answered.pk]
    assert _rows(_list(member, mailbox, answered="0", **view)) == [person.pk, robot.pk]
    assert _rows(_list(member, mailbox, answered="0", automatic="0", **view)) == [person.pk]
    page = _list(member, mailbox, automatic="maybe", **view)
    assert "Select a valid choice" in page
    assert len(_rows(page)) == 3


# Unread


def test_mail_is_unread_per_person_until_opened(
    member: Client, reader: User, mailbox: Mailbox
) -> None:
    colleague = User.objects.create_user("dave", password="x")
    set_access(mailbox, user_ids=[reader.pk, colleague.pk], group_ids=[])
    old = _store(mailbox, _raw("Old"), 1)
    new = _store(mailbox, _raw("New"), 2)
    mark_read(reader, old.pk)
    mark_read(reader, old.pk)  # again: nothing changes
    assert MessageRead.objects.filter(user=reader).count() == 1

    page = _list(member, mailbox, view="messages")
    assert _unread_rows(page) == [new.pk]
    assert 'class="sr-only">Unread: </span>New' in page
    assert _rows(_list(member, mailbox, view="messages", unread="1")) == [new.pk]
    assert _unread_rows(_list(_client(colleague), mailbox, view="messages")) == [new.pk, old.pk]


def test_mark_read_and_unread_from_the_list(member: Client, reader: User, mailbox: Mailbox) -> None:
    first = _store(mailbox, _raw("One", message_id="<u1@c.test>"), 1, process=True)
    reply = _store(mailbox, _raw("Re: One", in_reply_to="<u1@c.test>"), 2, process=True)
    single = _store(mailbox, _raw("Two"), 3)
    back = f"/mailboxes/{mailbox.pk}/mail/?unread=1"

    response = member.post(
        f"/mailboxes/{mailbox.pk}/mail/mark/",
        {"action": "read", "conversation": reply.conversation_id, "next": back},
    )
    assert response.status_code == 302 and response["Location"] == back
    assert set(MessageRead.objects.filter(user=reader).values_list("message", flat=True)) == {
        first.pk,
        reply.pk,
    }
    assert _rows(member.get(back).content.decode()) == [single.pk]

    member.post(
        f"/mailboxes/{mailbox.pk}/mail/mark/",
        {"action": "unread", "message": [first.pk], "next": "https://evil.test/"},
    )
    assert set(MessageRead.objects.filter(user=reader).values_list("message", flat=True)) == {
        reply.pk
    }
    # One unread message makes its conversation unread.
    assert _unread_rows(_list(member, mailbox)) == [single.pk, reply.pk]
    response = member.post(
        f"/mailboxes/{mailbox.pk}/mail/mark/", {"action": "read", "next": "https://evil.test/"}
    )
    assert response["Location"] == f"/mailboxes/{mailbox.pk}/mail/"
    assert member.get(f"/mailboxes/{mailbox.pk}/mail/mark/").status_code == 405


# Queries


def test_a_page_takes_a_fixed_number_of_queries(member: Client, mailbox: Mailbox) -> None:
    for minute in range(5):
        _store(mailbox, _raw(f"Mail {minute}"), minute, process=True)
    with CaptureQueriesContext(connection) as few:
        _list(member, mailbox)
    for minute in range(5, 40):
        _store(mailbox, _raw(f"Mail {minute}"), minute, process=True)
    with CaptureQueriesContext(connection) as many:
        _list(member, mailbox)
    assert len(many.captured_queries) == len(few.captured_queries)


# The mailbox page


def test_the_mailbox_page_shows_the_latest_mail_and_leads_to_all_of_it(
    member: Client, mailbox: Mailbox
) -> None:
    for minute in range(12):
        _store(mailbox, _raw(f"Mail {minute}"), minute)
    page = member.get(f"/mailboxes/{mailbox.pk}/").content.decode()
    table = page.split('id="messages"', 1)[1].split("<tbody>", 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") == 10
    assert f'href="/mailboxes/{mailbox.pk}/mail/" id="all-mail"' in page


@pytest.mark.parametrize("window", [3, 4, 1000])
def test_a_search_pages_through_every_match_in_order(
    plan: str,
    window: int,
    member: Client,
    mailbox: Mailbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Small pages and windows: the window of a common search sometimes holds a page of
    matches (and is used), sometimes not (and the whole list is searched)."""
    monkeypatch.setattr("mailroom.reading.listing.PAGE_SIZE", 2)
    monkeypatch.setattr("mailroom.reading.listing.WINDOW", window)
    words = ["toner", "toner", "paper", "toner", "paper", "paper", "toner", "toner", "toner"]
    # Arrival order differs from id order: the last stored arrived first.
    minutes = [5, 6, 7, 8, 9, 10, 11, 12, 1]
    ids = [
        _store(mailbox, _raw(f"About {word}", body=f"{word} {n}"), minute).pk
        for n, (word, minute) in enumerate(zip(words, minutes, strict=True))
    ]
    expected = [
        pk
        for pk, word, _ in sorted(zip(ids, words, minutes, strict=True), key=lambda r: -r[2])
        if word == "toner"
    ]
    seen: list[int] = []
    url: str | None = f"/mailboxes/{mailbox.pk}/mail/?view=messages&q=toner"
    while url is not None:
        page = member.get(url).content.decode()
        rows = _rows(page)
        assert 0 < len(rows) <= 2
        seen += rows
        url = _link(page, "older")
    assert seen == expected


# Back to the list


def test_a_message_opened_from_a_search_leads_back_to_that_search(
    member: Client, mailbox: Mailbox
) -> None:
    printer = _store(mailbox, _raw("Printer on fire"), 1)
    _store(mailbox, _raw("Invoice"), 2)
    page = _list(member, mailbox, view="messages", q="printer", answered="0")
    link = re.search(rf'href="(/messages/{printer.pk}/[^"]*)"', page)
    assert link is not None
    opened = member.get(unescape(link.group(1))).content.decode()

    back = re.search(r'id="back" href="([^"]+)"', opened)
    assert back is not None
    target = unescape(back.group(1))
    assert target == f"/mailboxes/{mailbox.pk}/mail/?view=messages&q=printer&answered=0"
    assert f'name="next" value="{back.group(1)}"' in opened  # "Mark unread" goes back there
    assert _rows(member.get(target).content.decode()) == [printer.pk]


def test_show_remote_content_keeps_the_way_back(member: Client, mailbox: Mailbox) -> None:
    html = (
        b"From: Ann <ann@customer.test>\r\nSubject: Newsletter\r\nMessage-ID: <n@c.test>\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>Hello <img src='https://x.test/a.png'></p>\r\n"
    )
    message = _store(mailbox, html, 1)
    opened = member.get(f"/messages/{message.pk}/", {"from": "q=hello"}).content.decode()
    href = re.search(r'id="show-remote" href="([^"]+)"', opened)
    assert href is not None and unescape(href.group(1)).endswith("&from=q%3Dhello")


@pytest.mark.parametrize(
    "given", ["https://evil.test/", "//evil.test/x", "next=https://evil.test/", "q=<b>x</b>"]
)
def test_the_way_back_holds_only_the_lists_own_parameters(
    member: Client, mailbox: Mailbox, given: str
) -> None:
    message = _store(mailbox, _raw("Printer on fire"), 1)
    opened = member.get(f"/messages/{message.pk}/", {"from": given}).content.decode()
    back = re.search(r'id="back" href="([^"]+)"', opened)
    assert back is not None
    target = unescape(back.group(1))
    assert target.startswith(f"/mailboxes/{mailbox.pk}/mail/")
    assert "evil" not in target and "<b>" not in opened.split('id="back"', 1)[1][:200]
