"""URLs of the mailroom UI."""

from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path

from mailroom.people.signin import SignInForm
from mailroom.web.views import (
    answers,
    attachments,
    contacts,
    lists,
    mailbox_delete,
    mailbox_form,
    mailboxes,
    messages,
    monitoring,
    records,
    rules,
    templates,
)

urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="mailroom/login.html", authentication_form=SignInForm
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", monitoring.healthz, name="healthz"),
    path("metrics", monitoring.prometheus, name="metrics"),
    path("", mailboxes.mailbox_list, name="mailbox-list"),
    path("mailboxes/new/", mailbox_form.mailbox_form, name="mailbox-create"),
    path("mailboxes/<int:mailbox_id>/", mailboxes.mailbox_detail, name="mailbox-detail"),
    path("mailboxes/<int:mailbox_id>/edit/", mailbox_form.mailbox_form, name="mailbox-edit"),
    path(
        "mailboxes/<int:mailbox_id>/progress/",
        mailboxes.mailbox_progress,
        name="mailbox-progress",
    ),
    path("mailboxes/<int:mailbox_id>/sync/", mailboxes.mailbox_sync, name="mailbox-sync"),
    path(
        "mailboxes/<int:mailbox_id>/alerts/<int:alert_id>/dismiss/",
        mailboxes.alert_dismiss,
        name="alert-dismiss",
    ),
    path(
        "mailboxes/<int:mailbox_id>/delete/",
        mailbox_delete.mailbox_delete,
        name="mailbox-delete",
    ),
    path("mailboxes/<int:mailbox_id>/rules/new/", rules.rule_form, name="rule-create"),
    path("mailboxes/<int:mailbox_id>/rules/<int:rule_id>/", rules.rule_form, name="rule-edit"),
    path(
        "mailboxes/<int:mailbox_id>/rules/<int:rule_id>/delete/",
        rules.rule_delete,
        name="rule-delete",
    ),
    path("templates/", templates.template_list, name="template-list"),
    path("templates/new/", templates.template_form, name="template-create"),
    path("templates/preview/", templates.template_preview, name="template-preview"),
    path("templates/<int:template_id>/", templates.template_form, name="template-edit"),
    path("templates/<int:template_id>/delete/", templates.template_delete, name="template-delete"),
    path("answers/<int:answer_id>/", answers.answer_detail, name="answer-detail"),
    path("messages/<int:message_id>/", messages.message_detail, name="message-detail"),
    path(
        "messages/<int:message_id>/reprocess/",
        messages.message_reprocess,
        name="message-reprocess",
    ),
    path(
        "attachments/<int:attachment_id>/",
        attachments.attachment_download,
        name="attachment-download",
    ),
    path("cases/", records.case_list, name="case-list"),
    path("cases/<int:case_id>/", records.case_detail, name="case-detail"),
    path("leads/", records.lead_list, name="lead-list"),
    path("leads/<int:lead_id>/", records.lead_detail, name="lead-detail"),
    path("contacts/<int:contact_id>/", contacts.contact_detail, name="contact-detail"),
    path("lead-sources/", lists.lead_sources, name="lead-sources"),
    path("lead-sources/<int:source_id>/", lists.lead_source_change, name="lead-source-change"),
    path("sales-channels/", lists.sales_channels, name="sales-channels"),
    path(
        "sales-channels/<int:channel_id>/",
        lists.sales_channel_change,
        name="sales-channel-change",
    ),
    path("", include("mailroom.web.routes.reading")),
    path("", include("mailroom.web.routes.message")),
    path("", include("mailroom.web.routes.replies")),
    path("", include("mailroom.web.routes.people")),
    path("", include("mailroom.web.routes.health")),
]
