"""Health: every mailbox's status on one page."""

from django.urls import URLPattern, path

from mailroom.web.views import health_page

urlpatterns: list[URLPattern] = [
    path("health/", health_page.health, name="health"),
]
