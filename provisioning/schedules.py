"""Every periodic job, declared in code and installed into django-celery-beat's tables.

The migration installs these defaults once; operations may then pause or retime a job
in admin. `manage.py setup_periodic_tasks --reset` puts the defaults back.
"""

from __future__ import annotations

import json

from django.conf import settings


def default_schedules() -> list[dict]:
    every = settings.RECONCILE_INTERVAL_SECONDS
    return [
        {
            "name": "re-drive stuck provisioning requests",
            "task": "provisioning.tasks.reconcile_stuck_requests_task",
            "every_seconds": every,
            "queue": "reconciliation",
        },
    ]


def install(periodic_task_model, interval_model, *, reset: bool = False) -> list[str]:
    """Create (or with reset, restore) the declared schedules; returns what changed."""
    changed = []
    for item in default_schedules():
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
