"""Screens: the Cases and Leads created from mail the user may read."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from mailroom.access.policy import cases_visible_to, leads_visible_to


@login_required
def case_list(request: HttpRequest) -> HttpResponse:
    cases = cases_visible_to(request.user).select_related("owner", "message__mailbox")[:200]
    return render(request, "mailroom/case_list.html", {"cases": cases, "section": "cases"})


@login_required
def lead_list(request: HttpRequest) -> HttpResponse:
    leads = leads_visible_to(request.user).select_related("owner", "source", "message__mailbox")[
        :200
    ]
    return render(request, "mailroom/lead_list.html", {"leads": leads, "section": "leads"})
