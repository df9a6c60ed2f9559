"""Every periodic job, declared in code and installed into django-celery-beat's tables.

Each app lists its jobs in `<app>/schedules.py` as `SCHEDULES` (a function of settings);
its migration installs them once; operations may then pause or retime a job in admin.
`manage.py setup_periodic_tasks [--reset]` installs (or restores) them all.
"""

from __future__ import annotations

import importlib
import json

from django.conf import settings

APPS_WITH_SCHEDULES = ("provisioning", "tokens", "notifications")


def SCHEDULES() -> list[dict]:  # noqa: N802 - same name in every app's schedules module
    return [
        {
            "name": "re-drive stuck provisioning requests",
            "task": "provisioning.tasks.reconcile_stuck_requests_task",
            "every_seconds": settings.RECONCILE_INTERVAL_SECONDS,
            "queue": "reconciliation",
        },
        {
            "name": "expire overdue step-ups and re-drive verified ones",
            "task": "provisioning.tasks.reconcile_step_ups_task",
            "every_seconds": settings.RECONCILE_INTERVAL_SECONDS,
            "queue": "reconciliation",
        },
        {
            "name": "erase expired wallet payloads",
            "task": "provisioning.tasks.reconcile_wallet_payloads_task",
            "every_seconds": settings.PAYLOAD_ERASE_INTERVAL_SECONDS,
            "queue": "reconciliation",
        },
    ]


def declared(app_label: str | None = None) -> list[dict]:
    items = []
    for label in APPS_WITH_SCHEDULES if app_label is None else (app_label,):
        try:
            module = importlib.import_module(f"{label}.schedules")
        except ModuleNotFoundError:
            continue
        items.extend(module.SCHEDULES())
    return items


def install(periodic_task_model, interval_model, *, app_label: str | None = None,
            reset: bool = False) -> list[str]:
    """Create (or with reset, restore) the declared schedules; returns what changed."""
    changed = []
    for item in declared(app_label):
        interval, _ = interval_model.objects.get_or_create(
            every=item["every_seconds"], period="seconds"
        )
        defaults = {
            "task": item["task"],
            "interval": interval,
            "queue": item["queue"],
            "kwargs": json.dumps(item.get("kwargs", {})),
            "enabled": True,
        }
        if reset:
            periodic_task_model.objects.update_or_create(name=item["name"], defaults=defaults)
            changed.append(item["name"])
        else:
            _, created = periodic_task_model.objects.get_or_create(name=item["name"],
                                                                     defaults=defaults)
            if created:
                changed.append(item["name"])
    return changed
