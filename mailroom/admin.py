"""Django admin for the lists and rules that have no screen of their own yet.

Mailboxes are managed on mailroom's own screens (the admin would not keep the password
write-only); here are templates with their translations, autoresponse rules with their
conditions, lead sources, sales channels, and the Leads and Cases themselves.
"""

from __future__ import annotations

from django.contrib import admin

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


class TranslationInline(admin.StackedInline[EmailTemplateTranslation, EmailTemplate]):
    model = EmailTemplateTranslation
    extra = 1


@admin.register(EmailTemplate)
class EmailTemplateAdmin(admin.ModelAdmin[EmailTemplate]):
    list_display = ("name", "type", "default_language")
    inlines = (TranslationInline,)


class ConditionInline(admin.TabularInline[RuleCondition, AutoResponseRule]):
    model = RuleCondition
    extra = 1


@admin.register(AutoResponseRule)
class AutoResponseRuleAdmin(admin.ModelAdmin[AutoResponseRule]):
    list_display = ("name", "mailbox", "active", "template")
    list_filter = ("mailbox", "active")
    inlines = (ConditionInline,)


@admin.register(LeadSource)
class LeadSourceAdmin(admin.ModelAdmin[LeadSource]):
    list_display = ("name",)


@admin.register(SalesChannel)
class SalesChannelAdmin(admin.ModelAdmin[SalesChannel]):
    list_display = ("name", "active")


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin[Case]):
    list_display = ("number", "subject", "status", "priority", "owner", "assignee")
    list_filter = ("status", "priority")
    raw_id_fields = ("message", "conversation", "contact")


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin[Lead]):
    list_display = ("name", "email", "source", "owner")
    raw_id_fields = ("message", "conversation", "contact")


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin[Contact]):
    list_display = ("email", "name", "language")
    search_fields = ("email", "name")
