"""Liveness, readiness and the JSON fallbacks for 404/500 outside DRF views.

/healthz says the process serves requests (no dependencies checked, so a database
outage does not get every pod restarted). /readyz checks the database, the broker and
Redis and answers 503 naming whichever is down, so the load balancer stops sending.

It also asks each outside system a flow registered (`depend_on_outside_systems`, from the
flow's AppConfig.ready: core never imports a flow) whether it answers, and reports each
under `outside`. A down outside system makes the answer `degraded`, still 200: every pod
shares it, so taking them all out of the load balancer would fix nothing and would stop
the API that does not need it (provisioning, reading transfers, cancelling); the flow's
own retries and beat's re-drives wait it out. The systems are asked at once, each with
READYZ_OUTSIDE_TIMEOUT seconds, so a probe takes about that long at worst.

Each system's answer is kept READYZ_OUTSIDE_CACHE_SECONDS in the process, so the kubelet's
and the load balancer's probes (every few seconds, per pod) do not each call every outside
system. In process rather than in Django's cache: the cache is Redis, which /readyz checks
and which must not decide whether an outside system looks up.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

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

# Registry names of the outside systems some flow depends on (insertion-ordered, no repeats).
_OUTSIDE_SYSTEMS: dict[str, None] = {}


def depend_on_outside_systems(*names: str) -> None:
    """A flow's hook (its AppConfig.ready): /readyz reports whether these systems answer.
    Names are registry entries with a client; an unknown one fails at start, not at probe."""
    from core.outside import registry

    for name in names:
        if not registry.get(name).client:
            raise ValueError(f"{name} has no client, so no base URL to ask")
        _OUTSIDE_SYSTEMS[name] = None


def outside_systems() -> list[str]:
    return list(_OUTSIDE_SYSTEMS)


class OutsideSystemDown(Exception):
    """It answered, with a server error: up as a host, not able to serve."""


def _outside_url(name: str) -> str:
    from core.outside import registry

    system = registry.get(name)
    return getattr(settings, system.base_url_setting).rstrip("/") + (system.health_path or "/")


def _check_outside(url: str) -> None:
    """Whether the system answers at all: any answer below 500 at its health path (its
    base URL where it publishes none) is up, 4xx included, since a reachability probe
    carries no credentials. No retries, no redirects, no proxies (the hardened session)."""
    from core.outside import transport

    timeout = settings.READYZ_OUTSIDE_TIMEOUT
    session = transport.hardened_session()
    try:
        reply = session.get(url, timeout=(timeout, timeout), allow_redirects=False)
    finally:
        session.close()
    if reply.status_code >= 500:
        raise OutsideSystemDown(f"http_{reply.status_code}")


# (system, URL asked) → (monotonic time it expires, the result). Keyed by the URL too, so
# a system aimed elsewhere is asked anew. One lock per key: probes arriving together while
# it is stale make one call, the others wait for its answer.
_remembered: dict[tuple[str, str], tuple[float, dict]] = {}
_locks: dict[tuple[str, str], threading.Lock] = {}
_locks_guard = threading.Lock()
_clock = time.monotonic


def forget_outside_results() -> None:
    """Ask every outside system again at the next probe (tests; a changed setting)."""
    _remembered.clear()


def _outside_result(name: str) -> dict:
    url = _outside_url(name)
    ttl = settings.READYZ_OUTSIDE_CACHE_SECONDS
    if ttl <= 0:
        return _run(name, lambda: _check_outside(url))
    key = (name, url)
    with _locks_guard:
        lock = _locks.setdefault(key, threading.Lock())
    with lock:
        kept = _remembered.get(key)
        if kept is not None and kept[0] > _clock():
            return kept[1]
        result = _run(name, lambda: _check_outside(url))
        _remembered[key] = (_clock() + ttl, result)
        return result


def _run(name: str, check) -> dict:
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:  # any failure means down; the reason is reported
        logger.warning("readiness check failed", extra={"check": name,
                                                          "error": type(exc).__name__})
        return {"status": "down", "error": type(exc).__name__}
    return {"status": "ok", "ms": round((time.perf_counter() - started) * 1000, 1)}


def _outside_results() -> dict[str, dict]:
    names = outside_systems()
    if not names:
        return {}
    with ThreadPoolExecutor(max_workers=len(names), thread_name_prefix="readyz") as pool:
        futures = {name: pool.submit(_outside_result, name) for name in names}
        return {name: future.result() for name, future in futures.items()}


@require_GET
def readyz(request):
    results = {name: _run(name, check) for name, check in CHECKS.items()}
    outside = _outside_results()
    ready = all(result["status"] == "ok" for result in results.values())
    degraded = any(result["status"] != "ok" for result in outside.values())
    status = "not_ready" if not ready else "degraded" if degraded else "ready"
    return JsonResponse({"status": status, "checks": results, "outside": outside},
                        status=200 if ready else 503)


def not_found(request, exception=None):
    return JsonResponse(error_body("not_found", "No such resource."), status=404)


def server_error(request):
    return JsonResponse(error_body("internal_error", "Something went wrong on our side."),
                        status=500)


def bad_request(request, exception=None):
    return JsonResponse(error_body("bad_request", "The request could not be read."), status=400)
