"""Replying from a mailbox: compose, send, retry."""

from django.urls import URLPattern, path

from mailroom.web.views import replies

urlpatterns: list[URLPattern] = [
    path("messages/<int:message_id>/reply/", replies.reply_compose, name="message-reply"),
    path("replies/<int:reply_id>/", replies.reply_detail, name="reply-detail"),
    path("replies/<int:reply_id>/retry/", replies.reply_retry, name="reply-retry"),
    path("replies/<int:reply_id>/copy/", replies.reply_copy_retry, name="reply-copy-retry"),
]
