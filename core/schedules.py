"""Every periodic job, declared in code by the app that owns it and synced into
django-celery-beat's tables.

Each app lists its jobs in `<app>/schedules.py` as `SCHEDULES()` (a function of
settings); this module finds them in every installed app, so adding an app's jobs
touches only that app. After every `migrate` (post_migrate) the declared jobs are
installed when missing and a job of ours that is no longer declared is removed; a job
operations paused or retimed in admin keeps their change. `manage.py
setup_periodic_tasks --reset` restores every declared job to its declared defaults.
"""

from __future__ import annotations

import importlib
import json
import logging

from django.apps import apps
from django.conf import settings
from django.db.models import Q

logger = logging.getLogger(__name__)


def declared() -> list[dict]:
    """The jobs every installed app declares, in app order."""
    items = []
    for config in apps.get_app_configs():
        try:
            module = importlib.import_module(f"{config.name}.schedules")
        except ModuleNotFoundError as missing:
            if missing.name != f"{config.name}.schedules":
                raise  # the module exists and imports something that does not
            continue
        declare = getattr(module, "SCHEDULES", None)
        if declare is not None:
            items.extend(declare())
    return items


def SCHEDULES() -> list[dict]:  # noqa: N802 - same name in every app's schedules module
    """Core's own job: the coming months' partitions of the log and the outbox."""
    return [
        {
            "name": "ensure partitions",
            "task": "core.tasks.ensure_partitions_task",
            "every_seconds": settings.PARTITION_ENSURE_INTERVAL_SECONDS,
            "queue": "reconciliation",
        },
    ]


def install(periodic_task_model, interval_model, *, reset: bool = False) -> list[str]:
    """Create missing jobs (with reset, restore them all); remove retired ones of ours."""
    changed = []
    jobs = declared()
    for item in jobs:
        interval, _ = interval_model.objects.get_or_create(every=item["every_seconds"],
                                                          period="seconds")
        defaults = {"task": item["task"], "interval": interval, "queue": item["queue"],
                    "kwargs": json.dumps(item.get("kwargs", {})), "enabled": True}
        if reset:
            periodic_task_model.objects.update_or_create(name=item["name"], defaults=defaults)
            changed.append(item["name"])
        elif periodic_task_model.objects.get_or_create(name=item["name"],
                                                       defaults=defaults)[1]:
            changed.append(item["name"])
    # A job of ours (a task in one of this project's apps) that no app declares any more.
    ours = Q()
    for config in apps.get_app_configs():
        if not config.name.startswith("django"):
            ours |= Q(task__startswith=f"{config.name}.tasks.")
    retired = (periodic_task_model.objects.filter(ours)
               .exclude(name__in=[item["name"] for item in jobs]))
    for name in retired.values_list("name", flat=True):
        changed.append(f"removed: {name}")
    retired.delete()
    if changed:
        logger.info("periodic jobs synced", extra={"changed": changed})
    return changed


def sync_after_migrate(sender, **kwargs) -> None:
    """post_migrate (connected by core's AppConfig): keep beat's tables as the code says."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    install(PeriodicTask, IntervalSchedule)
