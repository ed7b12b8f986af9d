"""Replying from a mailbox: compose, send, retry."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
