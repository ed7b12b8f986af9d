"""Who would read a mailbox whose access is being chosen (a form not saved yet)."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import User
from django.db.models import Q, QuerySet


def readers_given(user_ids: Iterable[int], role_ids: Iterable[int]) -> QuerySet[User]:
    """The active users who read a mailbox giving access to ``user_ids`` and ``role_ids``:
    administrators, those users and the members of those roles (as
    ``mailroom.access.policy.readers_of`` says for a saved mailbox)."""
    return (
        User.objects.filter(is_active=True)
        .filter(Q(is_staff=True) | Q(pk__in=list(user_ids)) | Q(groups__pk__in=list(role_ids)))
        .distinct()
        .order_by("username")
    )


def posted_ids(values: Iterable[object]) -> list[int]:
    """The whole numbers among posted values (anything else is the form field's to refuse)."""
    return [int(v) for v in values if isinstance(v, str | int) and str(v).isdigit()]
