"""Django admin for the lists and rules that have no screen of their own yet, for superusers.

Mailboxes are managed on mailroom's own screens (the admin would not keep the password
write-only); here are templates with their translations, autoresponse rules with their
conditions, lead sources, sales channels, and the Leads and Cases themselves, plus Django's
users and groups and django-axes' login records.

The admin is :data:`site` (mounted by ``mailroom.urls``), not Django's default site: to
anyone but an active superuser, every page of it, its login page included, is a 404 like a
page that does not exist. Superusers log in on mailroom's own login page.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import update_wrapper
from typing import Any, TypeVar, cast

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.common import no_append_slash

from mailroom.models import (
    AutoResponseRule,
    Case,
    Contact,
    EmailTemplate,
    EmailTemplateTranslation,
    Lead,
    LeadSource,
    RuleCondition,
    SalesChannel,
)

View = TypeVar("View", bound=Callable[..., HttpResponseBase])


class SuperuserAdminSite(admin.AdminSite):
    """The Django admin for active superusers only; a 404 for anyone else."""

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_active and user.is_superuser)

    def admin_view(self, view: View, cacheable: bool = False) -> View:
        # Django's wrapper sends whoever lacks permission to the admin's login page, which
        # tells them the admin exists; here it does not exist for them.
        guarded = super().admin_view(view, cacheable)

        def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not self.has_permission(request):
                raise Http404
            return guarded(request, *args, **kwargs)

        return cast("View", update_wrapper(inner, guarded))

    def login(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # A superuser already logged in is sent on to the index, as Django does.
        if not self.has_permission(request):
            raise Http404
        return super().login(request, extra_context)

    @no_append_slash
    def catch_all_view(self, request: HttpRequest, url: str) -> HttpResponse:
        # Django's would redirect "/admin/auth" to "/admin/auth/" for anyone.
        if not self.has_permission(request):
            raise Http404
        return super().catch_all_view(request, url)


site = SuperuserAdminSite(name="admin")
site.register(User, UserAdmin)
site.register(Group, GroupAdmin)
if getattr(settings, "AXES_ENABLE_ADMIN", True):
    from axes.admin import AccessAttemptAdmin, AccessFailureLogAdmin, AccessLogAdmin
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    site.register(AccessAttempt, AccessAttemptAdmin)
    site.register(AccessLog, AccessLogAdmin)
    site.register(AccessFailureLog, AccessFailureLogAdmin)


class TranslationInline(admin.StackedInline[EmailTemplateTranslation, EmailTemplate]):
    model = EmailTemplateTranslation
    extra = 1


@admin.register(EmailTemplate, site=site)
class EmailTemplateAdmin(admin.ModelAdmin[EmailTemplate]):
    list_display = ("name", "type", "default_language")
    inlines = (TranslationInline,)


class ConditionInline(admin.TabularInline[RuleCondition, AutoResponseRule]):
    model = RuleCondition
    extra = 1


@admin.register(AutoResponseRule, site=site)
class AutoResponseRuleAdmin(admin.ModelAdmin[AutoResponseRule]):
    list_display = ("name", "mailbox", "active", "template")
    list_filter = ("mailbox", "active")
    inlines = (ConditionInline,)


@admin.register(LeadSource, site=site)
class LeadSourceAdmin(admin.ModelAdmin[LeadSource]):
    list_display = ("name",)


@admin.register(SalesChannel, site=site)
class SalesChannelAdmin(admin.ModelAdmin[SalesChannel]):
    list_display = ("name", "active")


@admin.register(Case, site=site)
class CaseAdmin(admin.ModelAdmin[Case]):
    list_display = ("number", "subject", "status", "priority", "owner", "assignee")
    list_filter = ("status", "priority")
    raw_id_fields = ("message", "conversation", "contact")


@admin.register(Lead, site=site)
class LeadAdmin(admin.ModelAdmin[Lead]):
    list_display = ("name", "email", "source", "owner")
    raw_id_fields = ("message", "conversation", "contact")


@admin.register(Contact, site=site)
class ContactAdmin(admin.ModelAdmin[Contact]):
    list_display = ("email", "name", "language")
    search_fields = ("email", "name")
