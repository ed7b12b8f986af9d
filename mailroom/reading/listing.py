"""A mailbox's message list: its messages or its conversations, newest first, one page at a
time, filtered and searched.

Pages are keyset pages: a page ends at a cursor (the arrival time and id of its last row) and
the next one starts right after it with an index seek, so page 2,000 costs what page 1 costs;
nothing counts the whole mailbox. Arrival is the server's INTERNALDATE, or when mailroom
stored the message if the server gave none: the expression migration 0014 indexes.

The conversation view lists each conversation once, as its newest message among those the
filters and the search keep (so a search shows the conversation where it matched), with how
many messages the whole conversation holds and whether any of them is unread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from django.db import connection
from django.db.models import (
    Case,
    CharField,
    Count,
    DateTimeField,
    Exists,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Substr

from mailroom.mime.html_text import html_to_text
from mailroom.models import Case as CaseRecord
from mailroom.models import (
    Lead,
    Mailbox,
    Message,
    OutboxMessage,
    OutboxState,
    ProcessingRecord,
)
from mailroom.reading.search import COMMON, NotIndexed, Terms, matches_between, matching
from mailroom.reading.unread import User, read_by, unread_only

PAGE_SIZE = 50
# How many rows of the list a common search looks at before it asks for every match.
WINDOW = 1000
PREVIEW_LENGTH = 140
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CURSOR = re.compile(r"(-?\d{1,17})_(\d{1,19})")
_SPACES = re.compile(r"\s+")


class View(StrEnum):
    """What one row of the list is."""

    CONVERSATIONS = "conversations"
    MESSAGES = "messages"


class Has(StrEnum):
    """A record made from the mail (on the message or its conversation)."""

    LEAD = "lead"
    CASE = "case"


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: the arrival time and id of its last row (or first, going back)."""

    arrival: datetime
    id: int

    def __str__(self) -> str:
        delta = self.arrival - _EPOCH
        micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        return f"{micros}_{self.id}"

    @classmethod
    def parse(cls, text: str) -> Cursor | None:
        """The cursor ``text`` names, or None when it is not one."""
        match = _CURSOR.fullmatch(text)
        if match is None:
            return None
        try:
            arrival = _EPOCH + timedelta(microseconds=int(match.group(1)))
        except OverflowError:
            return None
        return cls(arrival, int(match.group(2)))


@dataclass(frozen=True)
class ListQuery:
    """What the person asked for (already validated)."""

    view: View = View.CONVERSATIONS
    terms: Terms | None = None
    folder_id: int | None = None
    has: Has | None = None
    automatic: bool | None = None
    answered: bool | None = None
    unread: bool = False
    before: Cursor | None = None
    after: Cursor | None = None


@dataclass
class Page:
    """One page of rows and the cursors to its neighbours."""

    rows: list[Row]
    older: Cursor | None
    newer: Cursor | None


def arrival() -> Coalesce:
    """When the message reached the mailbox, as migration 0014's indexes hold it."""
    return Coalesce(F("internal_date"), F("received_at"), output_field=DateTimeField())


def filtered(
    mailbox: Mailbox, user: User, query: ListQuery, *, search: bool = True
) -> QuerySet[Message]:
    """The mailbox's messages the filters and (unless ``search`` is false) the search keep,
    unordered.

    A rare search term, or few Leads, Cases or answers, lead the query on SQLite: the few
    matching ids are looked up and sorted. Its planner would rather walk the mailbox's list
    index (it cannot know how few they are), so the mailbox and folder conditions are then
    written so that no index serves them.
    """
    messages = Message.objects.all()
    sqlite = connection.vendor == "sqlite"
    few = False
    if search and query.terms is not None:
        messages = matching(messages, query.terms)
        few = sqlite and not query.terms.common
    if query.has is not None:
        records = (Lead if query.has is Has.LEAD else CaseRecord).objects.all()
        on_conversation = records.filter(conversation__isnull=False).values("conversation")
        on_message = records.filter(message__isnull=False).values("message")
        if records[:COMMON].count() < COMMON:
            messages = messages.filter(
                Q(conversation_id__in=on_conversation) | Q(pk__in=on_message)
            )
            few = True
        else:
            # Many: the list is read in order and each row tested against them.
            messages = messages.alias(
                has_conversation=NotIndexed(F("conversation_id")), has_id=NotIndexed(F("id"))
            ).filter(Q(has_conversation__in=on_conversation) | Q(has_id__in=on_message))
    if query.automatic is not None:
        automatic = Exists(
            ProcessingRecord.objects.filter(message_id=OuterRef("pk")).exclude(automated_reason="")
        )
        messages = messages.filter(automatic if query.automatic else ~automatic)
    if query.answered is not None:
        sent = _written().filter(in_reply_to__isnull=False)
        if query.answered and sent[:COMMON].count() < COMMON:
            messages = messages.filter(pk__in=sent.values("in_reply_to"))
            few = True
        else:
            answered = Exists(_answers())
            messages = messages.filter(answered if query.answered else ~answered)
    if query.unread:
        messages = unread_only(messages, user)
    if few and sqlite:
        messages = messages.alias(
            of_mailbox=NotIndexed(F("mailbox_id")), of_folder=NotIndexed(F("folder_id"))
        ).filter(of_mailbox=mailbox.pk)
        if query.folder_id is not None:
            messages = messages.filter(of_folder=query.folder_id)
    else:
        messages = messages.filter(mailbox=mailbox)
        if query.folder_id is not None:
            messages = messages.filter(folder_id=query.folder_id)
    return messages


def _written() -> QuerySet[OutboxMessage]:
    """Replies a person wrote and mailroom sent: what makes a message "answered" (an
    autoresponse only acknowledges it; the mail still waits for someone)."""
    return OutboxMessage.objects.filter(state=OutboxState.SENT, rule__isnull=True)


def _answers() -> QuerySet[OutboxMessage]:
    return _written().filter(in_reply_to_id=OuterRef("pk"))


def page(mailbox: Mailbox, user: User, query: ListQuery) -> Page:
    """The page ``query`` asks for: the newest rows, or those just older than ``before``, or
    just newer than ``after``."""
    keyed = filtered(mailbox, user, query).annotate(arrival=arrival())
    if query.view is View.CONVERSATIONS:
        newer_in_conversation = (
            filtered(mailbox, user, query)
            .annotate(arrival=arrival())
            .filter(conversation_id=OuterRef("conversation_id"), arrival__gte=OuterRef("arrival"))
            .filter(Q(arrival__gt=OuterRef("arrival")) | Q(id__gt=OuterRef("id")))
        )
        keyed = keyed.filter(Q(conversation_id__isnull=True) | ~Exists(newer_in_conversation))
    backwards = query.after is not None and query.before is None
    keyed = _after_cursor(keyed, query)
    order = ("arrival", "id") if backwards else ("-arrival", "-id")
    found = _window(mailbox, user, query, order)
    if found is None:
        found = list(keyed.order_by(*order).values_list("id", "arrival")[: PAGE_SIZE + 1])
    more = len(found) > PAGE_SIZE
    found = found[:PAGE_SIZE]
    if backwards:
        if not more:
            # Back at the newest mail: show a full first page rather than a short one.
            return page(mailbox, user, _first(query))
        found.reverse()
    keys = [Cursor(when, pk) for pk, when in found]
    rows = _rows(user, [pk for pk, _ in found], conversations=query.view is View.CONVERSATIONS)
    if backwards:
        older, newer = (keys[-1] if keys else None), (keys[0] if keys else None)
    else:
        older = keys[-1] if more else None
        newer = keys[0] if keys and query.before is not None else None
    return Page(rows, older, newer)


def _after_cursor(keyed: QuerySet[Any], query: ListQuery) -> QuerySet[Any]:
    """``keyed`` (annotated with ``arrival``) past the page's cursor, in the page's direction."""
    if query.before is not None:
        at = query.before
        return keyed.filter(arrival__lte=at.arrival).filter(
            Q(arrival__lt=at.arrival) | Q(id__lt=at.id)
        )
    if query.after is not None:
        at = query.after
        return keyed.filter(arrival__gte=at.arrival).filter(
            Q(arrival__gt=at.arrival) | Q(id__gt=at.id)
        )
    return keyed


def _window(
    mailbox: Mailbox, user: User, query: ListQuery, order: tuple[str, str]
) -> list[tuple[int, datetime]] | None:
    """A page of messages matching a search, found without listing every match.

    The next :data:`WINDOW` rows of the list (filters applied, search not) are read from the
    index; the search is asked only for its matches among their ids (a range of rowids FTS5
    seeks to). The window is a prefix of the list, so when it holds more than a page of
    matches they are exactly the page. None when that does not apply (the messages view of a
    search on SQLite only) or the window held too few matches (a rare term): the caller then
    runs the search over the whole list, where rare terms lead.
    """
    if query.view is not View.MESSAGES or query.terms is None:
        return None
    if connection.vendor != "sqlite":
        return None
    listed = _after_cursor(
        filtered(mailbox, user, query, search=False).annotate(arrival=arrival()), query
    ).order_by(*order)
    window = listed.values("id")[:WINDOW]
    descending = order[0].startswith("-")
    edge = Min(arrival()) if descending else Max(arrival())
    bounds = Message.objects.filter(pk__in=window).aggregate(lo=Min("id"), hi=Max("id"), edge=edge)
    if bounds["lo"] is None:
        return []
    # The window's oldest arrival (newest, going back) ends the scan where the window ends.
    in_window = listed.filter(
        pk__in=window,
        **{"arrival__gte" if descending else "arrival__lte": bounds["edge"]},
    )
    found = list(
        in_window.alias(search_id=NotIndexed(F("id")))
        .filter(search_id__in=matches_between(query.terms, bounds["lo"], bounds["hi"]))
        .values_list("id", "arrival")[: PAGE_SIZE + 1]
    )
    return found if len(found) > PAGE_SIZE else None


def _first(query: ListQuery) -> ListQuery:
    return ListQuery(
        query.view,
        query.terms,
        query.folder_id,
        query.has,
        query.automatic,
        query.answered,
        query.unread,
    )


@dataclass
class Row:
    """What one row of the list shows: a message (in the conversation view, the newest of its
    conversation that the filters keep)."""

    pk: int
    subject: str
    from_name: str
    from_email: str
    conversation_id: int | None
    arrival: datetime
    folder_name: str | None
    automated_reason: str
    has_lead: bool
    has_case: bool
    case_number: int | None
    answered: bool
    unread: bool
    is_malformed: bool
    preview: str
    # The conversation view: how many messages the whole conversation holds.
    in_conversation: int = 1


_ROW_FIELDS = (
    "id",
    "subject",
    "from_name",
    "from_email",
    "conversation_id",
    "is_malformed",
    "folder__name",
    "processing__automated_reason",
    "lead__id",
    "case__id",
    "case__number",
    "conversation__lead__id",
    "conversation__case__id",
    "conversation__case__number",
)


def _rows(user: User, ids: list[int], *, conversations: bool) -> list[Row]:
    """The rows of the messages ``ids``, in that order, in one query (plain values: building
    model instances of six related tables for fifty rows cost more than the query)."""
    if not ids:
        return []
    annotations: dict[str, Any] = {
        "arrival": arrival(),
        "is_read": read_by(user),
        "answered": Exists(_answers()),
        "text_start": Substr("text_body", 1, PREVIEW_LENGTH * 3),
        "html_start": Case(
            When(text_body="", then=Substr("html_body", 1, 4000)),
            default=Value(""),
            output_field=CharField(),
        ),
    }
    if conversations:
        same = Message.objects.filter(conversation_id=OuterRef("conversation_id"))
        count = same.order_by().values("conversation_id").annotate(n=Count("*")).values("n")
        annotations["in_conversation"] = Coalesce(
            Subquery(count), Value(1), output_field=IntegerField()
        )
        annotations["conversation_unread"] = Exists(same.filter(~read_by(user)))
    values = (
        Message.objects.filter(pk__in=ids)
        .annotate(**annotations)
        .values(*_ROW_FIELDS, *annotations)
    )
    by_id = {value["id"]: value for value in values}
    return [_row(by_id[pk], conversations=conversations) for pk in ids if pk in by_id]


def _row(value: dict[str, Any], *, conversations: bool) -> Row:
    text: str = value["text_start"] or html_to_text(value["html_start"])
    text = _SPACES.sub(" ", text).strip()
    if len(text) > PREVIEW_LENGTH:
        text = text[:PREVIEW_LENGTH].rstrip() + "…"
    grouped = conversations and value["conversation_id"] is not None
    case_number = value["case__number"] or value["conversation__case__number"]
    return Row(
        pk=value["id"],
        subject=value["subject"],
        from_name=value["from_name"],
        from_email=value["from_email"],
        conversation_id=value["conversation_id"],
        arrival=value["arrival"],
        folder_name=value["folder__name"],
        automated_reason=value["processing__automated_reason"] or "",
        has_lead=value["lead__id"] is not None or value["conversation__lead__id"] is not None,
        has_case=value["case__id"] is not None or value["conversation__case__id"] is not None,
        case_number=case_number,
        answered=value["answered"],
        unread=value["conversation_unread"] if grouped else not value["is_read"],
        is_malformed=value["is_malformed"],
        preview=text,
        in_conversation=value.get("in_conversation", 1),
    )
