"""Circuit breakers shared by every worker: one per outside system, its state in Redis
when REDIS_URL is set, its limits from the system's registry entry (settings
`<PREFIX>_BREAKER_FAIL_MAX`, `<PREFIX>_BREAKER_RESET_SECONDS`)."""

from __future__ import annotations

from functools import lru_cache

import pybreaker
from django.conf import settings

from .errors import PermanentError

CircuitBreakerError = pybreaker.CircuitBreakerError


@lru_cache(maxsize=8)
def shared_breaker(system: str) -> pybreaker.CircuitBreaker:
    """One breaker per outside system; its state lives in Redis when REDIS_URL is set, so
    every worker process sees the same open/closed state."""
    storage = None
    if settings.REDIS_URL:
        import redis

        storage = pybreaker.CircuitRedisStorage(
            pybreaker.STATE_CLOSED,
            redis.Redis.from_url(settings.REDIS_URL, socket_timeout=0.5),
            namespace=f"breaker:{system}",
        )
    return pybreaker.CircuitBreaker(
        fail_max=settings.BREAKER_FAIL_MAX[system],
        reset_timeout=settings.BREAKER_RESET_SECONDS[system],
        # A refused request (4xx) is the caller's problem, not the system being down.
        exclude=[PermanentError],
        state_storage=storage,
        name=system,
    )
