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


def _apply(
    locked: Lead | Case,
    by: User,
    statuses: type[LeadStatus] | type[CaseStatus],
    status: str,
    person_field: str,
    person: User | None,
) -> list[RecordChange]:
    """Set the locked record's status and its person field (owner or assignee); record each
    field that changed, as its label or user name."""
    link: dict[str, Lead | Case] = {"lead" if isinstance(locked, Lead) else "case": locked}
    changes = []
    if locked.status != status:
        old, new = str(statuses(locked.status).label), str(statuses(status).label)
        changes.append(RecordChange(**link, field="status", old=old, new=new, user=by))
        locked.status = status
    current: User | None = getattr(locked, person_field)
    if (current.pk if current else None) != (person.pk if person else None):
        changes.append(
            RecordChange(
                **link, field=person_field, old=_person(current), new=_person(person), user=by
            )
        )
        setattr(locked, person_field, person)
    if changes:
        locked.save(update_fields=["status", person_field])
        for change in changes:
            change.save()
    return changes


@transaction.atomic
def change_lead(lead: Lead, by: User, *, status: str, owner: User | None) -> list[RecordChange]:
    """Set the Lead's status and owner; record each field that changed (nothing else)."""
    locked = Lead.objects.select_for_update(of=("self",)).select_related("owner").get(pk=lead.pk)
    return _apply(locked, by, LeadStatus, status, "owner", owner)


@transaction.atomic
def change_case(case: Case, by: User, *, status: str, assignee: User | None) -> list[RecordChange]:
    """Set the Case's status and assignee; record each field that changed (nothing else)."""
    locked = Case.objects.select_for_update(of=("self",)).select_related("assignee").get(pk=case.pk)
    return _apply(locked, by, CaseStatus, status, "assignee", assignee)
