"""One message: its safe HTML body, inline images, the raw .eml."""

from django.urls import URLPattern, path

from mailroom.web.views import message_body

urlpatterns: list[URLPattern] = [
    path("messages/<int:message_id>/body/", message_body.message_body, name="message-body"),
    path(
        "messages/<int:message_id>/inline/<int:attachment_id>/",
        message_body.message_inline,
        name="message-inline",
    ),
    path("messages/<int:message_id>/raw/", message_body.message_raw, name="message-raw"),
]
