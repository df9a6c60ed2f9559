"""Periodic jobs of the provisioning flow (synced into beat's tables by core/schedules.py)."""

from __future__ import annotations

from django.conf import settings


def SCHEDULES() -> list[dict]:  # noqa: N802 - same name in every app's schedules module
    return [
        {
            "name": "redrive due requests",
            "task": "provisioning.tasks.redrive_due_requests_task",
            "every_seconds": settings.RECONCILE_INTERVAL_SECONDS,
            "queue": "reconciliation",
        },
        {
            "name": "sweep step-ups",
            "task": "provisioning.tasks.sweep_step_ups_task",
            "every_seconds": settings.RECONCILE_INTERVAL_SECONDS,
            "queue": "reconciliation",
        },
        {
            "name": "erase expired wallet payloads",
            "task": "provisioning.tasks.erase_expired_wallet_payloads_task",
            "every_seconds": settings.PAYLOAD_ERASE_INTERVAL_SECONDS,
            "queue": "reconciliation",
        },
    ]
