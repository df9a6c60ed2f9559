"""Liveness, readiness and the JSON fallbacks for 404/500 outside DRF views.

/healthz says the process serves requests (no dependencies checked, so a database
outage does not get every pod restarted). /readyz checks the database, the broker and
Redis and answers 503 naming whichever is down, so the load balancer stops sending.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from core.errors import error_body

logger = logging.getLogger(__name__)


@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_broker() -> None:
    # The project's Celery app (config/celery.py) is the current one once the settings
    # package is imported; core never imports config, the composition root above it.
    from celery import current_app

    with current_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=0, timeout=2)


def _check_redis() -> None:
    if not settings.REDIS_URL:
        return  # embedded mode: no Redis configured, nothing to be ready
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
    finally:
        client.close()


CHECKS = {"database": _check_database, "broker": _check_broker, "redis": _check_redis}


@require_GET
def readyz(request):
    results, ready = {}, True
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            check()
            results[name] = {"status": "ok",
                             "ms": round((time.perf_counter() - started) * 1000, 1)}
        except Exception as exc:  # any failure means not ready; the reason is reported
            ready = False
            results[name] = {"status": "down", "error": type(exc).__name__}
            logger.warning("readiness check failed", extra={"check": name,
                                                              "error": type(exc).__name__})
    return JsonResponse({"status": "ready" if ready else "not_ready", "checks": results},
                        status=200 if ready else 503)


def not_found(request, exception=None):
    return JsonResponse(error_body("not_found", "No such resource."), status=404)


def server_error(request):
    return JsonResponse(error_body("internal_error", "Something went wrong on our side."),
                        status=500)


def bad_request(request, exception=None):
    return JsonResponse(error_body("bad_request", "The request could not be read."), status=400)
