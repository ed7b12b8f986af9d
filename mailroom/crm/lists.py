"""The lists administrators manage in the product: Lead Source options and Sales channels.

Callers (the Lead sources and Sales channels pages) validate names; these functions assume
valid input and are atomic. An option in use is never deleted, only deactivated, so Leads and
mailboxes that name it keep it.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Max

from mailroom.models import Lead, LeadSource, Mailbox, SalesChannel

# The options a new installation starts with; the first is the default.
DEFAULT_LEAD_SOURCES = ("Email", "Website", "Phone", "Referral", "Partner", "Other")

# Said wherever "Convert to Lead" is refused (the CLI, config import) or left out (the form).
NO_ACTIVE_SALES_CHANNEL = (
    "Convert to Lead needs an active sales channel: activate one on the Sales channels page "
    "(/sales-channels/, in the header for administrators)."
)


class InUse(Exception):
    """The option is named by a Lead or a mailbox: deactivate it instead of deleting it."""


def sales_channel_active() -> bool:
    """Whether "Convert to Lead" may be chosen: at least one Sales channel is active."""
    return SalesChannel.objects.filter(active=True).exists()


def lead_choice_refusals(
    kind: str, settings: dict[str, Any], *, current_kind: str | None, current: dict[str, Any]
) -> dict[str, str]:
    """Why the CLI or an import may not set a mailbox to ``kind`` with ``settings``: "kind"
    when it is "lead" with no active Sales channel, "source" when the source is inactive.
    A mailbox already set so keeps it (its mail is then stored but not converted)."""
    if kind != "lead":
        return {}
    refusals = {}
    if current_kind != "lead" and not sales_channel_active():
        refusals["kind"] = NO_ACTIVE_SALES_CHANNEL
    source = settings.get("source")
    if (
        source
        and source != current.get("source")
        and LeadSource.objects.filter(name=source, active=False).exists()
    ):
        refusals["source"] = (
            f"the lead source {source!r} is inactive: reactivate it on the Lead sources page "
            "(/lead-sources/), or choose another"
        )
    return refusals


@transaction.atomic
def ensure_default_lead_sources() -> bool:
    """Create the default options on a new installation (no option and no mailbox yet);
    whether it did. Idempotent, and an installation whose options were all deleted later
    (it has mailboxes by then) does not get them back."""
    if LeadSource.objects.exists() or Mailbox.objects.exists():
        return False
    LeadSource.objects.bulk_create(
        LeadSource(name=name, position=i, is_default=(i == 0))
        for i, name in enumerate(DEFAULT_LEAD_SOURCES)
    )
    return True


def add_lead_source(name: str) -> LeadSource:
    """A new active option, placed last."""
    last = LeadSource.objects.aggregate(last=Max("position"))["last"]
    return LeadSource.objects.create(name=name, position=0 if last is None else last + 1)


@transaction.atomic
def import_lead_sources(items: list[dict[str, Any]]) -> None:
    """Options from a configuration (``{"name", "active", "default"}``, in their order): each
    created when new, its state set, the listed ones placed first in the document's order;
    options not listed stay, after them."""
    listed = []
    for item in items:
        name = item["name"].strip()
        source = LeadSource.objects.filter(name=name).first() or add_lead_source(name)
        set_lead_source_active(source, bool(item.get("active", True)))
        if item.get("default"):
            set_default_lead_source(source)
        listed.append(source.pk)
    others = LeadSource.objects.exclude(pk__in=listed).order_by("position", "name")
    order = listed + [s.pk for s in others]
    for position, pk in enumerate(order):
        LeadSource.objects.filter(pk=pk).exclude(position=position).update(position=position)


@transaction.atomic
def rename_lead_source(source: LeadSource, name: str) -> None:
    """Rename the option, and the mailboxes' Lead settings that name it (settings store the
    name, so an exported configuration can be imported elsewhere)."""
    old = source.name
    source.name = name
    source.save(update_fields=["name"])
    for mailbox in Mailbox.objects.select_for_update().filter(processor_settings__source=old):
        mailbox.processor_settings = {**mailbox.processor_settings, "source": name}
        mailbox.save(update_fields=["processor_settings"])


@transaction.atomic
def move_lead_source(source: LeadSource, offset: int) -> None:
    """Move the option ``offset`` places up (negative) or down the list."""
    ordered = list(LeadSource.objects.select_for_update().order_by("position", "name"))
    index = next(i for i, s in enumerate(ordered) if s.pk == source.pk)
    target = min(max(index + offset, 0), len(ordered) - 1)
    ordered.insert(target, ordered.pop(index))
    for position, option in enumerate(ordered):
        if option.position != position:
            option.position = position
            option.save(update_fields=["position"])


@transaction.atomic
def set_default_lead_source(source: LeadSource) -> None:
    """Make the (active) option the default: the one a new mailbox's form proposes."""
    LeadSource.objects.filter(is_default=True).exclude(pk=source.pk).update(is_default=False)
    LeadSource.objects.filter(pk=source.pk).update(is_default=True)


def set_lead_source_active(source: LeadSource, active: bool) -> None:
    """Offer the option again, or no longer; an inactive option is never the default."""
    source.active = active
    if not active:
        source.is_default = False
    source.save(update_fields=["active", "is_default"])


def lead_source_users(source: LeadSource) -> tuple[int, list[str]]:
    """(how many Leads, which mailboxes' labels) name the option."""
    leads = Lead.objects.filter(source=source).count()
    mailboxes = Mailbox.objects.filter(processor_settings__source=source.name)
    return leads, sorted(mailboxes.values_list("label", flat=True))


@transaction.atomic
def delete_lead_source(source: LeadSource) -> None:
    """Delete an option nothing names; raise :class:`InUse` otherwise."""
    locked = LeadSource.objects.select_for_update().get(pk=source.pk)
    leads, mailboxes = lead_source_users(locked)
    if leads or mailboxes:
        raise InUse(locked.name)
    locked.delete()


def add_sales_channel(name: str) -> SalesChannel:
    """A new active Sales channel."""
    return SalesChannel.objects.create(name=name, active=True)


def set_sales_channel_active(channel: SalesChannel, active: bool) -> None:
    """Activate or deactivate a channel; with none active, "Convert to Lead" is not offered."""
    channel.active = active
    channel.save(update_fields=["active"])
