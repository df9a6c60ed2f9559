"""Periodic jobs of the tokens app (synced into beat's tables by core/schedules.py)."""

from django.conf import settings


def SCHEDULES() -> list[dict]:  # noqa: N802
    return [
        {
            "name": "reconcile tokens",
            "task": "tokens.tasks.reconcile_tokens_task",
            "every_seconds": settings.TOKEN_RECONCILE_INTERVAL_SECONDS,
            "queue": "reconciliation",
        },
    ]
