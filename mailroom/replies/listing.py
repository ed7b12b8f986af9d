"""The replies of a conversation, for its pages: written ones and autoresponses alike."""

from __future__ import annotations

from django.db.models import QuerySet

from mailroom.models import Message, OutboxMessage


def conversation_replies(message: Message) -> QuerySet[OutboxMessage]:
    """Every reply sent (or to be sent) in ``message``'s conversation, oldest first; only the
    message's own replies while it has no conversation yet."""
    # The list shows neither the message bytes nor the bodies: they are not loaded.
    replies = OutboxMessage.objects.select_related("author", "rule").defer(
        "raw", "body_text", "body_html"
    )
    if message.conversation_id is not None:
        replies = replies.filter(in_reply_to__conversation_id=message.conversation_id)
    else:
        replies = replies.filter(in_reply_to=message)
    return replies.order_by("id")
