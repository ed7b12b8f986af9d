"""People and access: users, roles, who may read which mailbox."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
