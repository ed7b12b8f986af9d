"""Screen: Health, every mailbox's status on one page (administrators; anyone else finds no such
page). Monitors use ``/healthz`` instead (``monitoring.py``)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from mailroom.access.policy import is_admin
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
