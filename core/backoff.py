"""Retry delays: exponential backoff with full jitter (AWS architecture blog's "full
jitter"), one formula for every retry the apps schedule; each caller names its settings."""

from __future__ import annotations

import random

from django.conf import settings


def full_jitter(attempts: int, *, base: float, cap: float) -> float:
    """Seconds before the next try after `attempts` tries: uniform between half the base
    and the doubled-per-attempt ceiling (never above `cap`)."""
    ceiling = min(cap, base * (2 ** max(attempts - 1, 0)))
    return random.uniform(min(base / 2, ceiling), ceiling)


def outside_retry_delay(attempts: int) -> float:
    """The delay before retrying a call to an outside system (OUTSIDE_RETRY_*)."""
    return full_jitter(attempts, base=settings.OUTSIDE_RETRY_BASE_SECONDS,
                       cap=settings.OUTSIDE_RETRY_MAX_SECONDS)
