"""Rate limits per customer (JWT subject) and per client IP; 429 carries Retry-After.

A fixed-window counter: one key per identity and window, incremented and given its
expiry in one MULTI/EXEC round trip to Redis (one for all of a view's scopes together),
so two concurrent requests can never both read the same count and both pass (DRF's SimpleRateThrottle reads the history,
then writes it back: a race that lets a burst through). A window admits at most
`limit` requests; a client at a window's edge can fit two windows' worth into one
period, which is the accepted price of one round trip.

While Redis is down the limits fail open: the request goes through, the failure is
counted in `api_throttle_backend_errors_total` (alert ThrottleBackendDown) and
logged. Refusing every request because the rate store is down would turn a cache
outage into a full outage; the per-customer scoping, idempotency keys and body limit
still hold without it.

The client IP is the one core.security.client_ip resolves (X-Forwarded-For trusted
only as far as TRUSTED_PROXY_COUNT), so a caller cannot reset its own limit by
inventing forwarded addresses. Rates are read from settings on each request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from prometheus_client import Counter
from redis.exceptions import RedisError
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from core.security import client_ip

logger = logging.getLogger(__name__)

THROTTLE_BACKEND_ERRORS = Counter(
    "api_throttle_backend_errors_total",
    "Rate-limit checks that could not reach the rate store and let the request through",
    ["scope"],
)


_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(text: str) -> tuple[int, int]:
    """'120/min' -> (120, 60): DRF's rate notation (the unit's first letter counts)."""
    try:
        limit, unit = text.split("/")
        return int(limit), _PERIODS[unit.strip()[0]]
    except (ValueError, KeyError, IndexError):
        raise ImproperlyConfigured(f"Not a rate: {text!r} (use e.g. 120/min)") from None


def count_in_window(key: str, period: int) -> int:
    """Add one to the window's counter and return it; the key dies with its window."""
    return count_in_windows([(key, period)])[0]


def count_in_windows(windows: Sequence[tuple[str, int]]) -> list[int]:
    """`count_in_window` for several (key, period) pairs, in one MULTI/EXEC round trip."""
    if hasattr(cache, "client") and hasattr(cache.client, "get_client"):  # django-redis
        redis = cache.client.get_client(write=True)
        pipe = redis.pipeline(transaction=True)
        for key, period in windows:
            pipe.incr(cache.make_key(key))
            # NX: only the first increment of a window sets its expiry.
            pipe.expire(cache.make_key(key), period + 1, nx=True)
        results = pipe.execute()
        return [int(count) for count in results[::2]]
    return [_count_in_file_cache(key, period) for key, period in windows]


def _count_in_file_cache(key: str, period: int) -> int:
    # The embedded mode's file cache (one laptop, no Redis): add-then-incr is not
    # atomic across processes, which a demo can live with.
    cache.add(key, 0, timeout=period + 1)
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=period + 1)
        return 1


@dataclass(frozen=True)
class _Window:
    """One scope's counted window for one request (or the error that kept it uncounted)."""

    count: int | None
    limit: int
    period: int
    window: int
    now: float
    error: Exception | None = None


# Where the first throttle of a request leaves the windows it counted for the others.
_COUNTED = "_fixed_windows_counted"


class _FixedWindowThrottle(BaseThrottle):
    """Every fixed-window throttle of a view is counted in one Redis round trip: the first
    to run counts its siblings' windows too (DRF asks every throttle of the view, even
    after one refuses, so none is counted that would not have been) and leaves them on
    the request; each throttle takes its own, once."""

    scope = ""

    def __init__(self) -> None:
        self._wait: float | None = None

    def identity(self, request, view) -> str | None:
        raise NotImplementedError

    def rate(self) -> tuple[int, int]:
        try:
            text = api_settings.DEFAULT_THROTTLE_RATES[self.scope]
        except KeyError:
            raise ImproperlyConfigured(f"No throttle rate set for scope {self.scope!r}") from None
        return parse_rate(text)

    def allow_request(self, request, view) -> bool:
        counted = getattr(request, _COUNTED, None)
        if counted is None or self.scope not in counted:
            counted = _count_all(self._with_siblings(view), request, view)
            setattr(request, _COUNTED, counted)
        found = counted.pop(self.scope)
        if found is None:  # no identity: not counted in this scope
            return True
        if found.error is not None:
            THROTTLE_BACKEND_ERRORS.labels(self.scope).inc()
            logger.warning("rate limit store unavailable: request let through",
                           extra={"scope": self.scope, "error": type(found.error).__name__})
            return True
        if found.count > found.limit:
            self._wait = (found.window + 1) * found.period - found.now
            return False
        return True

    def _with_siblings(self, view) -> list[_FixedWindowThrottle]:
        siblings = [throttle for throttle in (view.get_throttles() if view is not None else ())
                    if isinstance(throttle, _FixedWindowThrottle)
                    and throttle.scope != self.scope]
        return [self, *siblings]

    def wait(self) -> float | None:
        return self._wait


def _count_all(throttles: Sequence[_FixedWindowThrottle], request, view
               ) -> dict[str, _Window | None]:
    now = time.time()
    counted: dict[str, _Window | None] = {}
    keys: list[tuple[str, int]] = []
    pending: list[tuple[str, int, int, int]] = []
    for throttle in throttles:
        ident = throttle.identity(request, view)
        if ident is None:
            counted[throttle.scope] = None
            continue
        limit, period = throttle.rate()
        window = int(now // period)
        keys.append((f"throttle:{throttle.scope}:{ident}:{window}", period))
        pending.append((throttle.scope, limit, period, window))
    if not keys:
        return counted
    try:
        counts: list[int | None] = list(count_in_windows(keys))
        error = None
    except (RedisError, OSError) as exc:
        counts, error = [None] * len(keys), exc
    for (scope, limit, period, window), count in zip(pending, counts, strict=True):
        counted[scope] = _Window(count, limit, period, window, now, error)
    return counted


class CustomerRateThrottle(_FixedWindowThrottle):
    scope = "customer"

    def identity(self, request, view) -> str | None:
        customer = getattr(request, "user", None)
        return getattr(customer, "customer_id", None) or None


class ClientIpRateThrottle(_FixedWindowThrottle):
    scope = "client_ip"

    def identity(self, request, view) -> str | None:
        return client_ip(request)
