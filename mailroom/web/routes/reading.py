"""Reading a mailbox: its message list (search, filters, unread) and conversations."""

from django.urls import URLPattern, path

from mailroom.web.views import message_list

urlpatterns: list[URLPattern] = [
    path("mailboxes/<int:mailbox_id>/mail/", message_list.message_list, name="message-list"),
    path(
        "mailboxes/<int:mailbox_id>/mail/mark/",
        message_list.message_list_mark,
        name="message-list-mark",
    ),
]
