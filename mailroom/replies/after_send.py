"""What follows the send of a reply a person wrote: a line on the conversation's Case, and the
copy in the server's Sent folder. Called once, by the sender that moved the row to ``sent``."""

from __future__ import annotations

from mailroom.models import Case, OutboxMessage, RecordChange, SentCopy
from mailroom.replies.sent_copy import copy_to_sent

# RecordChange.new holds at most this many characters.
_NOTE_LIMIT = 300


def reply_note(author: str, subject: str) -> str:
    """The line a Case shows for a reply sent in its conversation."""
    note = f"Reply sent by {author}: {subject or '(no subject)'}"
    return note if len(note) <= _NOTE_LIMIT else note[: _NOTE_LIMIT - 1] + "…"


def note_on_case(row: OutboxMessage) -> RecordChange | None:
    """Record the sent reply on the Case of the conversation it answers, if there is one."""
    conversation_id = row.in_reply_to.conversation_id if row.in_reply_to is not None else None
    case = Case.objects.filter(conversation_id=conversation_id).first() if conversation_id else None
    if case is None and row.in_reply_to is not None:
        case = Case.objects.filter(message=row.in_reply_to).first()
    if case is None:
        return None
    author = row.author.get_username() if row.author is not None else "a person"
    return RecordChange.objects.create(
        case=case, user=row.author, field="reply", new=reply_note(author, row.subject)
    )


def after_sent(outbox_id: int) -> None:
    """Note a sent reply written in mailroom on its Case and copy it to Sent; autoresponses
    (no author, no copy due) are left alone."""
    row = OutboxMessage.objects.select_related("author", "in_reply_to").filter(pk=outbox_id).first()
    if row is None or row.sent_copy == SentCopy.NONE:
        return
    note_on_case(row)
    copy_to_sent(outbox_id)
