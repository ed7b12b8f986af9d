"""Who may see which mailbox, and what follows from it (its messages, Leads and Cases).

Administrators (staff users) see and manage every mailbox. Anyone else sees a mailbox when they
are one of its authorized users or belong to one of its authorized roles. A mailbox someone may
not see does not exist for them: 404, never 403, so its existence does not leak.
"""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.models import User as UserModel
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from mailroom.models import Case, Contact, Conversation, Lead, Mailbox, Message

User = AbstractBaseUser | AnonymousUser


def is_admin(user: User) -> bool:
    """Whether ``user`` manages mailboxes (creates them, changes settings and rules)."""
    return bool(user.is_active and getattr(user, "is_staff", False))


def mailboxes_visible_to(user: User) -> QuerySet[Mailbox]:
    """The mailboxes ``user`` may read."""
    if not user.is_authenticated or not user.is_active:
        return Mailbox.objects.none()
    if is_admin(user):
        return Mailbox.objects.all()
    return Mailbox.objects.filter(
        Q(authorized_users=user) | Q(authorized_groups__user=user)
    ).distinct()


def access_mailbox(user: User, mailbox_id: int, *, manage: bool = False) -> Mailbox:
    """The mailbox, if ``user`` may read it (or manage it, with ``manage``); else 404."""
    if manage and not is_admin(user):
        raise Http404("no such mailbox")
    try:
        return mailboxes_visible_to(user).get(pk=mailbox_id)
    except Mailbox.DoesNotExist:
        raise Http404("no such mailbox") from None


def messages_visible_to(user: User) -> QuerySet[Message]:
    """Messages of the mailboxes ``user`` may read."""
    return Message.objects.filter(mailbox__in=mailboxes_visible_to(user))


def access_message(user: User, message_id: int) -> Message:
    """The message, if its mailbox is visible to ``user``; else 404."""
    try:
        return messages_visible_to(user).select_related("mailbox", "folder").get(pk=message_id)
    except Message.DoesNotExist:
        raise Http404("no such message") from None


def cases_visible_to(user: User) -> QuerySet[Case]:
    """Cases created from mail of visible mailboxes, and (for administrators) all others."""
    if is_admin(user):
        return Case.objects.all()
    return Case.objects.filter(message__mailbox__in=mailboxes_visible_to(user))


def leads_visible_to(user: User) -> QuerySet[Lead]:
    """Leads created from mail of visible mailboxes, and (for administrators) all others."""
    if is_admin(user):
        return Lead.objects.all()
    return Lead.objects.filter(message__mailbox__in=mailboxes_visible_to(user))


def readers_of(mailbox: Mailbox | None) -> QuerySet[UserModel]:
    """The active users who may read ``mailbox``: its authorized users, the members of its
    authorized roles, and administrators (who alone see a record without a mailbox)."""
    users = UserModel.objects.filter(is_active=True)
    if mailbox is None:
        return users.filter(is_staff=True).order_by("username")
    return (
        users.filter(
            Q(is_staff=True)
            | Q(authorized_mailboxes=mailbox)
            | Q(groups__authorized_mailboxes=mailbox)
        )
        .distinct()
        .order_by("username")
    )


def conversations_visible_to(user: User) -> QuerySet[Conversation]:
    """Conversations of the mailboxes ``user`` may read."""
    return Conversation.objects.filter(mailbox__in=mailboxes_visible_to(user))


def contacts_visible_to(user: User) -> QuerySet[Contact]:
    """Contacts ``user`` may see: administrators all of them, anyone else those with a message,
    a conversation, a Lead or a Case the user may see (so a record's page never links to a
    Contact that does not exist for its reader)."""
    if is_admin(user):
        return Contact.objects.all()
    mine = OuterRef("pk")
    return Contact.objects.filter(
        Exists(messages_visible_to(user).filter(contact=mine))
        | Exists(conversations_visible_to(user).filter(contact=mine))
        | Exists(leads_visible_to(user).filter(contact=mine))
        | Exists(cases_visible_to(user).filter(contact=mine))
    )


def access_contact(user: User, contact_id: int) -> Contact:
    """The Contact, if ``user`` may see it (see :func:`contacts_visible_to`); else 404."""
    try:
        return contacts_visible_to(user).get(pk=contact_id)
    except Contact.DoesNotExist:
        raise Http404("no such contact") from None
