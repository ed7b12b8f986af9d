"""Changes people make to a Lead or a Case on its page, each recorded as a RecordChange.

Callers check that the user may see the record and that a new owner or assignee may read its
mailbox; these functions assume valid input and are atomic.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from mailroom.models import Case, CaseStatus, Lead, LeadStatus, RecordChange


def _person(user: User | None) -> str:
    return user.get_username() if user is not None else ""


@transaction.atomic
def change_lead(
    lead: Lead,
    by: User,
    *,
    status: str,
    owner: User | None,
) -> list[RecordChange]:
    """Set the Lead's status and owner; record each field that changed (nothing else)."""
    locked = Lead.objects.select_for_update(of=("self",)).select_related("owner").get(pk=lead.pk)
    changes = []
    if locked.status != status:
        changes.append(
            RecordChange(
                lead=locked,
                field="status",
                old=LeadStatus(locked.status).label,
                new=LeadStatus(status).label,
            )
        )
        locked.status = status
    if locked.owner_id != (owner.pk if owner is not None else None):
        changes.append(
            RecordChange(lead=locked, field="owner", old=_person(locked.owner), new=_person(owner))
        )
        locked.owner = owner
    if changes:
        locked.save(update_fields=["status", "owner"])
        for change in changes:
            change.user = by
            change.save()
    return changes


@transaction.atomic
def change_case(
    case: Case,
    by: User,
    *,
    status: str,
    assignee: User | None,
) -> list[RecordChange]:
    """Set the Case's status and assignee; record each field that changed (nothing else)."""
    locked = Case.objects.select_for_update(of=("self",)).select_related("assignee").get(pk=case.pk)
    changes = []
    if locked.status != status:
        changes.append(
            RecordChange(
                case=locked,
                field="status",
                old=CaseStatus(locked.status).label,
                new=CaseStatus(status).label,
            )
        )
        locked.status = status
    if locked.assignee_id != (assignee.pk if assignee is not None else None):
        changes.append(
            RecordChange(
                case=locked,
                field="assignee",
                old=_person(locked.assignee),
                new=_person(assignee),
            )
        )
        locked.assignee = assignee
    if changes:
        locked.save(update_fields=["status", "assignee"])
        for change in changes:
            change.user = by
            change.save()
    return changes
