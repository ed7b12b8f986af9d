"""``/healthz`` for load balancers and monitors, ``/metrics`` for Prometheus (both shapes).

Neither needs a login: monitors have none. Both show counts only, never a name, address or
server. Set ``MAILROOM_METRICS_TOKEN`` to require ``Authorization: Bearer <token>`` on
``/metrics``.
"""

from __future__ import annotations

import hmac

from django.db import connection
from django.db.utils import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from mailroom import conf, metrics
from mailroom.models import Mailbox, MailboxStatus, ProcessingRecord, ProcessingState


def _database_ok() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        return f"unreachable: {type(error).__name__}"
    return "ok"


def _broker_ok() -> str:
    if not conf.CELERY_BROKER_URL:
        return "in-process"
    import redis

    try:
        redis.Redis.from_url(conf.CELERY_BROKER_URL, socket_timeout=3).ping()
    except redis.RedisError as error:
        return f"unreachable: {type(error).__name__}"
    return "ok"


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database (and, scaled out, the broker) answer; 503 naming what does not."""
    checks = {"database": _database_ok(), "broker": _broker_ok()}
    healthy = all(value in {"ok", "in-process"} for value in checks.values())
    body: dict[str, object] = {"status": "ok" if healthy else "unavailable", **checks}
    if checks["database"] == "ok":
        body["mailboxes_failing"] = Mailbox.objects.filter(
            status__in=[MailboxStatus.AUTH_ERROR, MailboxStatus.DEGRADED, MailboxStatus.ERROR]
        ).count()
        body["unprocessed"] = ProcessingRecord.objects.filter(state=ProcessingState.PENDING).count()
    return JsonResponse(body, status=200 if healthy else 503)


@require_GET
@never_cache
def prometheus(request: HttpRequest) -> HttpResponse:
    """The process's counters and the deployment's backlog, in Prometheus's text format."""
    token = conf.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            return HttpResponse("a valid bearer token is required\n", status=401)
    body, content_type = metrics.exposition()
    return HttpResponse(body, content_type=content_type)
