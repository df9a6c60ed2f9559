"""The tasks' wiring: queues, and the beat schedule the migration installs."""

from __future__ import annotations

import pytest
from django_celery_beat.models import PeriodicTask

from config.celery import app


def _queue_of(task_name: str) -> str:
    return app.amqp.router.route({}, task_name)["queue"].name


def test_sends_go_to_the_notifications_queue_and_the_drain_to_reconciliation():
    assert _queue_of("notifications.tasks.send_notification_task") == "notifications"
    assert _queue_of("notifications.tasks.drain_outbox_task") == "reconciliation"


@pytest.mark.django_db
def test_migrate_installs_the_outbox_drain_in_beat():
    task = PeriodicTask.objects.get(name="drain outbox")
    assert task.task == "notifications.tasks.drain_outbox_task"
    assert (task.queue, task.enabled) == ("reconciliation", True)
    assert task.interval.every == 30 and task.interval.period == "seconds"
