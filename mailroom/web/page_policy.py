"""The Content-Security-Policy of mailroom's own pages: only its own scripts and styles run.

Every page mailroom renders escapes what senders wrote; this policy is the layer behind that.
Were some sender text ever to reach a page unescaped, an inline ``<script>``, an ``on…=``
handler, a ``javascript:`` link, a ``style`` attribute or a remote image would still do
nothing: scripts and styles load only from this server's static files, forms post only here,
and no other site may frame a page.

A response that sets its own policy keeps it (the message frame's, the downloads'). The Django
admin, kept for superusers, uses ``style`` attributes of its own, so its pages allow them.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"

_DIRECTIVES = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "font-src 'self'",
    "connect-src 'self'",
    # The message page shows the mail in a frame of this server (its own, stricter policy).
    "frame-src 'self'",
    "frame-ancestors 'none'",
    "form-action 'self'",
    "base-uri 'none'",
    "object-src 'none'",
)
PAGE_POLICY = "; ".join(_DIRECTIVES)
ADMIN_POLICY = PAGE_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")


def policy_for(path: str) -> str:
    """The policy of the page at ``path``."""
    return ADMIN_POLICY if path.startswith("/admin/") else PAGE_POLICY


class PagePolicyMiddleware:
    """Give each response without a policy of its own the page policy (JSON and text too: a
    browser told to show one as a page still runs nothing)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if HEADER not in response:
            response[HEADER] = policy_for(request.path)
        return response
