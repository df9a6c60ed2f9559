"""Every Celery task lands on a queue a worker consumes, and the periodic jobs on the one
their beat entry names."""

from __future__ import annotations

import pytest
from django.conf import settings

from config.celery import app
from core import schedules
from devstack.stack import QUEUES

CONSUMED = set(QUEUES.split(","))


def _our_tasks() -> list[str]:
    app.loader.import_default_modules()
    return sorted(name for name in app.tasks if not name.startswith("celery."))


def _queue(name: str) -> str:
    route = app.amqp.router.route({}, name, args=(), kwargs={})
    return route["queue"].name


def test_every_app_has_tasks_registered():
    apps = {name.split(".")[0] for name in _our_tasks()}
    assert {"provisioning", "tokens", "notifications"} <= apps


@pytest.mark.parametrize("name", _our_tasks())
def test_every_registered_task_routes_to_a_queue_a_worker_consumes(name):
    assert _queue(name) in CONSUMED


def test_every_periodic_job_routes_to_the_queue_its_beat_entry_names():
    jobs = schedules.declared()
    assert jobs, "no periodic jobs declared"
    for job in jobs:
        assert job["task"] in app.tasks, job["task"]
        assert _queue(job["task"]) == job["queue"] == "reconciliation", job["task"]


def test_customer_work_never_waits_behind_the_periodic_jobs():
    periodic = {job["task"] for job in schedules.declared()}
    for name in _our_tasks():
        if name not in periodic:
            assert _queue(name) == name.split(".")[0], name


def test_no_route_names_a_task_that_does_not_exist():
    tasks = set(_our_tasks())
    exact = [pattern for pattern in settings.CELERY_TASK_ROUTES if "*" not in pattern]
    assert [pattern for pattern in exact if pattern not in tasks] == []
