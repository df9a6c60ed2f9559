"""Periodic jobs of the notifications app (installed by migration 0002; see
provisioning/schedules.py for how every app's schedules are declared and installed)."""

from __future__ import annotations

from django.conf import settings


def SCHEDULES() -> list[dict]:  # noqa: N802 - same name in every app's schedules module
    return [
        {
            "name": "drain the notification outbox",
            "task": "notifications.tasks.drain_notification_outbox_task",
            "every_seconds": settings.NOTIFICATION_DRAIN_INTERVAL_SECONDS,
            "queue": "reconciliation",
        },
    ]
