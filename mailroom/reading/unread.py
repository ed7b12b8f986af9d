"""Unread state per person: a :class:`MessageRead` row says one user has opened one message.

Writes are idempotent and safe when two requests race (the unique constraint on user and
message decides; a duplicate insert is ignored, never an error). Anonymous users have no read
state: marking is a no-op for them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import Exists, Model, OuterRef, QuerySet

from mailroom.models import Message, MessageRead

User = AbstractBaseUser | AnonymousUser
_M = TypeVar("_M", bound=Model)


def mark_read(user: User, message_id: int) -> None:
    """Record that ``user`` has read the message (again: nothing changes)."""
    mark_many_read(user, [message_id])


def mark_many_read(user: User, message_ids: Iterable[int]) -> None:
    """Record that ``user`` has read each of the messages; those read before stay as they were.

    The caller has checked that the user may see the messages."""
    if not user.is_authenticated:
        return
    rows = [MessageRead(user_id=user.pk, message_id=pk) for pk in set(message_ids)]
    if rows:
        MessageRead.objects.bulk_create(rows, ignore_conflicts=True)


def mark_unread(user: User, message_id: int) -> None:
    """Make the message unread again for ``user`` (and only for them)."""
    mark_many_unread(user, [message_id])


def mark_many_unread(user: User, message_ids: Iterable[int]) -> None:
    """Make each of the messages unread again for ``user``."""
    if not user.is_authenticated:
        return
    ids = set(message_ids)
    if ids:
        MessageRead.objects.filter(user_id=user.pk, message_id__in=ids).delete()


def read_by(user: User, message: str = "pk") -> Exists:
    """An expression, true when ``user`` has read the message named by ``message`` (a field
    of the outer query holding a message id), for ``annotate`` and ``filter``.

    For anonymous users it is never true."""
    # No account has id 0: an anonymous reader has read nothing.
    user_id = int(user.pk) if user.is_authenticated else 0
    return Exists(MessageRead.objects.filter(user_id=user_id, message_id=OuterRef(message)))


def with_read_state(messages: QuerySet[Message], user: User) -> QuerySet[Message]:
    """``messages`` with ``is_read`` on each row: whether ``user`` has opened it."""
    return messages.annotate(is_read=read_by(user))


def unread_only(rows: QuerySet[_M], user: User, message: str = "pk") -> QuerySet[_M]:
    """The rows of ``rows`` whose message ``user`` has not read yet."""
    return rows.filter(~read_by(user, message))
