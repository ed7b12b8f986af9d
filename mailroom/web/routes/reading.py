"""Reading a mailbox: its message list (search, filters, unread) and conversations."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
