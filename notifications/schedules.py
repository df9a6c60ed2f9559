"""Periodic jobs of the notifications app (synced into beat's tables by
core/schedules.py)."""

from __future__ import annotations

from django.conf import settings


def SCHEDULES() -> list[dict]:  # noqa: N802 - same name in every app's schedules module
    return [
        {
            "name": "drain outbox",
            "task": "notifications.tasks.drain_outbox_task",
            "every_seconds": settings.NOTIFICATION_DRAIN_INTERVAL_SECONDS,
            "queue": "reconciliation",
        },
    ]
