"""Health: every mailbox's status on one page."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
