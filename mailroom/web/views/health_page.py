"""Screens: Health, every mailbox's status on one page, and the audit log of connection checks
(administrators; anyone else finds no such page). Monitors use ``/healthz`` instead
(``monitoring.py``)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from mailroom import conf
from mailroom.access.policy import is_admin
from mailroom.mailboxes.check_log import recent_checks
from mailroom.web.health import health_overview, when


@login_required
@require_GET
@never_cache
def health(request: HttpRequest) -> HttpResponse:
    """Totals at the top, then one row per mailbox with its problems first."""
    if not is_admin(request.user):
        raise Http404("no such page")
    overview = health_overview()
    return render(
        request,
        "mailroom/health.html",
        {
            "rows": overview.rows,
            "totals": overview.totals,
            "checked_at": when(overview.checked_at),
            "section": "health",
        },
    )


@login_required
@require_GET
@never_cache
def connection_checks(request: HttpRequest) -> HttpResponse:
    """The audit log of "Check connection" (threats.md S07, S19): the latest checks, newest
    first, with who asked, from where, which server and account, and what came of it."""
    if not is_admin(request.user):
        raise Http404("no such page")
    return render(
        request,
        "mailroom/connection_checks.html",
        {"checks": recent_checks(), "check_limit": conf.CHECKS_PER_MINUTE, "section": "health"},
    )
