"""One message: its safe HTML body, inline images, the raw .eml."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
