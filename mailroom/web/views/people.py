"""Screens: People (users: list, create, edit, deactivate, reset password) and Roles (create,
rename, delete, members, mailboxes). Administrators only: for anyone else none of these pages
exists (404), whatever the method."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import Group, User
from django.db.models import Count, Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mailroom.access.policy import is_admin, readers_of
from mailroom.models import Mailbox
from mailroom.people.actions import (
    PeopleRefused,
    change_person,
    create_person,
    create_role,
    deactivate_person,
    delete_role,
    reactivate_person,
    rename_role,
    reset_password,
    set_role_mailboxes,
    set_role_members,
)
from mailroom.pipeline.processors.registry import load_processor, registered
from mailroom.web.people_forms import PersonForm, RoleForm

View = Callable[..., HttpResponse]


def admin_only(view: View) -> View:
    """Log in first; then the page exists for administrators only."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_admin(request.user):
            raise Http404("no such page")
        return view(request, *args, **kwargs)

    return login_required(wrapped)


def _actor(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _warn_owners_without_access(request: HttpRequest) -> None:
    """After a change of who reads what: say which mailboxes name an owner or assignee who can
    no longer read them (their new Leads and Cases would be invisible to them)."""
    for mailbox in Mailbox.objects.exclude(processor_kind="none").order_by("label"):
        if mailbox.processor_kind not in registered():
            continue
        settings = mailbox.processor_settings or {}
        errors = load_processor(mailbox.processor_kind).reader_errors(settings, readers_of(mailbox))
        for key in errors:
            messages.warning(
                request,
                f"{settings[key]} is the {key} set in the mailbox “{mailbox.label}” but can no "
                "longer read it: choose someone else in its settings, or give them access again.",
            )


def _shown_once(request: HttpRequest, person: User, password: str, created: bool) -> HttpResponse:
    """The page that shows a password once: rendered straight from the POST, never stored,
    never cached."""
    response = render(
        request,
        "mailroom/people_password.html",
        {"person": person, "password": password, "created": created, "section": "people"},
    )
    response["Cache-Control"] = "no-store"
    return response


@admin_only
@require_GET
def people_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:200]
    people = User.objects.prefetch_related(
        Prefetch("groups", queryset=Group.objects.order_by("name"))
    ).order_by("-is_active", "username")
    if query:
        people = people.filter(
            Q(username__icontains=query)
            | Q(email__icontains=query)
            | Q(first_name__icontains=query)
            | Q(last_name__icontains=query)
            | Q(groups__name__icontains=query)
        ).distinct()
    return render(
        request,
        "mailroom/people_list.html",
        {"people": people, "query": query, "section": "people"},
    )


@admin_only
@require_http_methods(["GET", "POST"])
def person_create(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        form = PersonForm()
    else:
        form = PersonForm(request.POST)
        if form.is_valid():
            person, password = create_person(form.person_input(), password=form.chosen_password())
            if form.chosen_password() is None:
                return _shown_once(request, person, password, created=True)
            messages.success(request, f"{person.email} was created with the password you set.")
            return redirect("people")
    return render(
        request, "mailroom/people_form.html", {"form": form, "person": None, "section": "people"}
    )


def _person(request: HttpRequest, user_id: int) -> User:
    """The user to change. A superuser (who alone may use the Django admin) is changed only by
    another superuser: an administrator could otherwise reset its password and log in as it."""
    person = get_object_or_404(User, pk=user_id)
    if person.is_superuser and not getattr(request.user, "is_superuser", False):
        raise Http404("no such person")
    return person


@admin_only
@require_http_methods(["GET", "POST"])
def person_edit(request: HttpRequest, user_id: int) -> HttpResponse:
    person = _person(request, user_id)
    if request.method == "GET":
        form = PersonForm(initial=PersonForm.initial_for(person), person=person)
    else:
        form = PersonForm(request.POST, person=person)
        if form.is_valid():
            try:
                change_person(person, form.person_input(), actor=_actor(request))
            except PeopleRefused as exc:
                form.add_error("is_admin", str(exc))
            else:
                messages.success(request, f"{person.email} saved.")
                _warn_owners_without_access(request)
                return redirect("people")
    return render(
        request,
        "mailroom/people_form.html",
        {
            "form": form,
            "person": person,
            "is_self": person.pk == request.user.pk,
            "section": "people",
        },
    )


@admin_only
@require_POST
def person_deactivate(request: HttpRequest, user_id: int) -> HttpResponse:
    person = _person(request, user_id)
    try:
        deactivate_person(person, actor=_actor(request))
    except PeopleRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, f"{person.email or person.username} was deactivated and logged out."
        )
        _warn_owners_without_access(request)
    return redirect("person-edit", user_id=person.pk)


@admin_only
@require_POST
def person_reactivate(request: HttpRequest, user_id: int) -> HttpResponse:
    person = _person(request, user_id)
    reactivate_person(person)
    messages.success(request, f"{person.email or person.username} can log in again.")
    return redirect("person-edit", user_id=person.pk)


@admin_only
@require_POST
def person_reset_password(request: HttpRequest, user_id: int) -> HttpResponse:
    person = _person(request, user_id)
    if person.pk != request.user.pk:
        return _shown_once(request, person, reset_password(person), created=False)
    # Your own: your other sessions end, this one goes on under the new password.
    password = reset_password(person, keep_session=request.session.session_key)
    update_session_auth_hash(request, person)
    return _shown_once(request, person, password, created=False)


# --- Roles ---------------------------------------------------------------------------------------


def _roles() -> Any:
    return Group.objects.annotate(
        member_count=Count("user", filter=Q(user__is_active=True), distinct=True),
        mailbox_count=Count("authorized_mailboxes", distinct=True),
    ).order_by("name")


@admin_only
@require_http_methods(["GET", "POST"])
def role_list(request: HttpRequest) -> HttpResponse:
    """The roles, and a form to add one."""
    form = RoleForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        role = create_role(form.cleaned_data["name"])
        set_role_members(role, [u.pk for u in form.cleaned_data["members"]])
        set_role_mailboxes(role, [m.pk for m in form.cleaned_data["mailboxes"]])
        messages.success(request, f"Role “{role.name}” created.")
        return redirect("role-list")
    return render(
        request,
        "mailroom/role_list.html",
        {"roles": _roles(), "form": form, "section": "people"},
    )


@admin_only
@require_http_methods(["GET", "POST"])
def role_edit(request: HttpRequest, role_id: int) -> HttpResponse:
    role = get_object_or_404(Group, pk=role_id)
    if request.method == "GET":
        form = RoleForm(initial=RoleForm.initial_for(role), role=role)
    else:
        form = RoleForm(request.POST, role=role)
        if form.is_valid():
            rename_role(role, form.cleaned_data["name"])
            # Deactivated members are not offered, and stay members (reactivated, they are
            # back in their roles).
            inactive = list(role.user_set.filter(is_active=False).values_list("pk", flat=True))
            set_role_members(role, [u.pk for u in form.cleaned_data["members"]] + inactive)
            set_role_mailboxes(role, [m.pk for m in form.cleaned_data["mailboxes"]])
            messages.success(request, f"Role “{role.name}” saved.")
            _warn_owners_without_access(request)
            return redirect("role-list")
    return render(
        request, "mailroom/role_form.html", {"form": form, "role": role, "section": "people"}
    )


@admin_only
@require_http_methods(["GET", "POST"])
def role_delete(request: HttpRequest, role_id: int) -> HttpResponse:
    """Delete a role; one with members or mailboxes asks for confirmation first."""
    role = get_object_or_404(Group, pk=role_id)
    members = list(role.user_set.order_by("username"))
    mailboxes = list(Mailbox.objects.filter(authorized_groups=role).order_by("label"))
    in_use = bool(members or mailboxes)
    if request.method == "POST" and (not in_use or request.POST.get("confirm")):
        name = role.name
        delete_role(role)
        messages.success(request, f"Role “{name}” deleted.")
        _warn_owners_without_access(request)
        return redirect("role-list")
    return render(
        request,
        "mailroom/role_delete.html",
        {
            "role": role,
            "members": members,
            "mailboxes": mailboxes,
            "in_use": in_use,
            "missing_confirm": request.method == "POST",
            "section": "people",
        },
    )
