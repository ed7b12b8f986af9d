"""Users and roles, changed only through these actions. Callers validate input (the People
forms); the guards that protect the installation itself (nobody deactivates themself or the
last active administrator) are checked here too, because no caller may skip them.

A user logs in with their email address: it is their user name, in lower case, as for the
first administrator ``mailroom run`` creates. A role is a Django group; administrators are the
staff users (``mailroom.access.policy.is_admin``).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.contrib.auth.models import Group, User
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from mailroom.models import Mailbox


class PeopleRefused(Exception):
    """The change would lock the installation out (the message says why)."""


@dataclass
class PersonInput:
    """What an administrator sets on a user."""

    name: str
    email: str
    is_admin: bool = False
    role_ids: list[int] = field(default_factory=list)


def login_name(email: str) -> str:
    """The user name someone logs in with: their email address in lower case."""
    return email.strip().lower()


def generate_password() -> str:
    """A password to pass on once: 16 characters, about 96 bits, no look-alike punctuation."""
    return secrets.token_urlsafe(12)


def active_admins() -> int:
    """How many active administrators there are."""
    return User.objects.filter(is_active=True, is_staff=True).count()


def _guard_admin_kept(user: User, *, losing: bool, actor: User) -> None:
    """Refuse to take the administrator role from the actor themself or from the last one."""
    if not losing or not (user.is_active and user.is_staff):
        return
    if user.pk == actor.pk:
        raise PeopleRefused("You cannot take away your own administrator rights.")
    if active_admins() <= 1:
        raise PeopleRefused("This is the last active administrator: make someone else one first.")


@transaction.atomic
def create_person(data: PersonInput, *, password: str | None) -> tuple[User, str]:
    """Create an active user; ``password=None`` generates one. Returns the user and the
    password, to be shown once and never stored in clear."""
    chosen = password or generate_password()
    user = User.objects.create_user(
        username=login_name(data.email),
        email=login_name(data.email),
        password=chosen,
        first_name=data.name.strip(),
    )
    user.is_staff = data.is_admin
    user.save(update_fields=["is_staff"])
    user.groups.set(list(data.role_ids))
    return user, chosen


@transaction.atomic
def change_person(user: User, data: PersonInput, *, actor: User) -> None:
    """Change a user's name, email (= login), administrator flag and roles."""
    _guard_admin_kept(user, losing=not data.is_admin, actor=actor)
    user.first_name = data.name.strip()
    user.last_name = ""
    user.username = login_name(data.email)
    user.email = login_name(data.email)
    user.is_staff = data.is_admin
    if not data.is_admin:
        # A superuser is an administrator too (the Django admin lets it do anything).
        user.is_superuser = False
    user.save()
    user.groups.set(list(data.role_ids))


def end_sessions(user: User, *, keep: str | None = None) -> int:
    """Log ``user`` out everywhere (but in the session ``keep``): delete their unexpired
    sessions; return how many."""
    ended = 0
    sessions = Session.objects.filter(expire_date__gt=timezone.now()).exclude(session_key=keep)
    for session in sessions.iterator():
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk):
            session.delete()
            ended += 1
    return ended


@transaction.atomic
def deactivate_person(user: User, *, actor: User) -> None:
    """Deactivate ``user`` (never deleted: their Leads, Cases and history keep their name);
    they are logged out at once."""
    if user.pk == actor.pk:
        raise PeopleRefused("You cannot deactivate yourself.")
    if user.is_staff and user.is_active and active_admins() <= 1:
        raise PeopleRefused("This is the last active administrator: it cannot be deactivated.")
    user.is_active = False
    user.save(update_fields=["is_active"])
    end_sessions(user)


def reactivate_person(user: User) -> None:
    """Let ``user`` log in again, with the password they had."""
    user.is_active = True
    user.save(update_fields=["is_active"])


@transaction.atomic
def reset_password(user: User, *, keep_session: str | None = None) -> str:
    """Give ``user`` a new generated password (returned, to be shown once), end their sessions
    (but ``keep_session``: an administrator resetting their own stays logged in there) and
    clear their failed logins."""
    from axes.utils import reset as reset_attempts

    password = generate_password()
    user.set_password(password)
    user.save(update_fields=["password"])
    end_sessions(user, keep=keep_session)
    reset_attempts(username=user.get_username())
    return password


@transaction.atomic
def create_role(name: str) -> Group:
    """A new role, with nobody in it and no mailbox."""
    return Group.objects.create(name=name.strip())


def rename_role(role: Group, name: str) -> None:
    role.name = name.strip()
    role.save(update_fields=["name"])


@transaction.atomic
def set_role_members(role: Group, user_ids: Iterable[int]) -> None:
    """The users in ``role``: exactly these."""
    role.user_set.set(list(user_ids))


@transaction.atomic
def set_role_mailboxes(role: Group, mailbox_ids: Iterable[int]) -> None:
    """The mailboxes members of ``role`` may read: exactly these."""
    role.authorized_mailboxes.set(Mailbox.objects.filter(pk__in=list(mailbox_ids)))


@transaction.atomic
def delete_role(role: Group) -> None:
    """Delete ``role``: its members lose what it gave them (never their account)."""
    role.delete()
