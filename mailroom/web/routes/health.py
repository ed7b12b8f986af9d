"""Health: every mailbox's status on one page; the audit log of connection checks."""

from django.urls import URLPattern, path

from mailroom.web.views import health_page

urlpatterns: list[URLPattern] = [
    path("health/", health_page.health, name="health"),
    path("health/checks/", health_page.connection_checks, name="connection-checks"),
]
