"""Periodic jobs of the Visa Direct flow (synced into beat's tables by core/schedules.py)."""

from __future__ import annotations

from django.conf import settings


def SCHEDULES() -> list[dict]:  # noqa: N802 - same name in every app's schedules module
    return [
        {
            "name": "redrive due transfers",
            "task": "transfers.tasks.redrive_due_transfers_task",
            "every_seconds": settings.TRANSFER_REDRIVE_INTERVAL_SECONDS,
            "queue": "reconciliation",
        },
        {
            "name": "reconcile settlement reports",
            "task": "transfers.tasks.reconcile_settlement_reports_task",
            "every_seconds": settings.TRANSFER_RECONCILE_INTERVAL_SECONDS,
            "queue": "reconciliation",
        },
    ]
