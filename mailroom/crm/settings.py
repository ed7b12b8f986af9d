"""The settings of the Lead and Case processors, as stored on a mailbox (plain JSON).

Users, sources and channels are named (user name, source name) rather than numbered, so an
exported configuration can be imported into another installation.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User

from mailroom.access.policy import readers_of
from mailroom.models import CasePriority, LeadSource, Mailbox, SalesChannel


def _user(username: object) -> User | None:
    if not username:
        return None
    return User.objects.filter(username=str(username)).first()


def readers_only(mailbox: Mailbox, **people: User | None) -> tuple[dict[str, User | None], str]:
    """``people`` (owner, assignee …) with anyone who cannot read ``mailbox`` (any more: the
    form refuses them, but access changes later) left out, and why, for the record: a
    record they own would be invisible to them."""
    kept: dict[str, User | None] = {}
    dropped = []
    for role, user in people.items():
        if user is not None and not readers_of(mailbox).filter(pk=user.pk).exists():
            dropped.append(f"{role} {user.get_username()} cannot read this mailbox")
            user = None
        kept[role] = user
    return kept, "; ".join(dropped) + (": left unassigned" if dropped else "")


def resolve_lead_settings(
    settings: dict[str, Any],
) -> tuple[User | None, LeadSource | None, SalesChannel | None]:
    """(owner, source, channel) named in the settings; a name that no longer exists is None.
    Settings that name no source get the default option (Lead sources page), if there is one.
    """
    if settings.get("source"):
        source = LeadSource.objects.filter(name=settings["source"]).first()
    else:
        source = LeadSource.objects.filter(is_default=True, active=True).first()
    channel = SalesChannel.objects.filter(name=settings.get("channel") or "", active=True).first()
    if channel is None:
        channel = SalesChannel.objects.filter(active=True).first()
    return _user(settings.get("owner")), source, channel


def lead_settings_errors(settings: dict[str, Any]) -> dict[str, str]:
    """Field errors of the Lead processor's settings."""
    errors = {}
    if settings.get("owner") and _user(settings["owner"]) is None:
        errors["owner"] = f"there is no user {settings['owner']!r}"
    if settings.get("source") and not LeadSource.objects.filter(name=settings["source"]).exists():
        errors["source"] = f"there is no lead source {settings['source']!r}"
    if not SalesChannel.objects.filter(active=True).exists():
        errors["processor_kind"] = "Convert to Lead needs an active sales channel; add one first"
    return errors


def resolve_case_settings(
    settings: dict[str, Any],
) -> tuple[User | None, User | None, str]:
    """(owner, assignee, priority) named in the settings."""
    priority = str(settings.get("priority") or CasePriority.NORMAL)
    if priority not in CasePriority.values:
        priority = CasePriority.NORMAL
    return _user(settings.get("owner")), _user(settings.get("assignee")), priority


# ``closed_case_replies``: what a reply to a closed (or resolved) Case does.
CLOSED_CASE_REOPEN = "reopen"
CLOSED_CASE_NEW = "new_case"
CLOSED_CASE_CHOICES = (
    (CLOSED_CASE_REOPEN, "Reopen the Case"),
    (CLOSED_CASE_NEW, "Start a new Case"),
)
# ``automatic_cases``: whether automatic mail (bounces, auto-replies, lists…) creates Cases.
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


def _flag(value: object) -> bool | None:
    """A stored yes/no setting (JSON boolean, or text from the CLI); None if unreadable."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    text = str(value).strip().lower()
    return True if text in _TRUE else False if text in _FALSE else None


def resolve_case_options(settings: dict[str, Any]) -> tuple[str, bool]:
    """(closed_case_replies, automatic_cases); defaults: reopen, off."""
    closed = str(settings.get("closed_case_replies") or CLOSED_CASE_REOPEN)
    if closed not in dict(CLOSED_CASE_CHOICES):
        closed = CLOSED_CASE_REOPEN
    return closed, bool(_flag(settings.get("automatic_cases")))


def case_settings_errors(settings: dict[str, Any]) -> dict[str, str]:
    """Field errors of the Case processor's settings."""
    errors = {}
    for key in ("owner", "assignee"):
        if settings.get(key) and _user(settings[key]) is None:
            errors[key] = f"there is no user {settings[key]!r}"
    if settings.get("priority") and settings["priority"] not in CasePriority.values:
        errors["priority"] = f"priority must be one of {', '.join(CasePriority.values)}"
    closed = settings.get("closed_case_replies")
    if closed and closed not in dict(CLOSED_CASE_CHOICES):
        choices = ", ".join(dict(CLOSED_CASE_CHOICES))
        errors["closed_case_replies"] = f"closed_case_replies must be one of {choices}"
    if _flag(settings.get("automatic_cases")) is None:
        errors["automatic_cases"] = "automatic_cases must be yes or no"
    return errors
