"""Thin Celery tasks: send one notification; drain the outbox (beat).

Late acks are safe because dispatch claims its row first: a redelivered or duplicated
message finds the row sent, or held by another dispatcher, and does nothing. The retry
budget lives on the row (`attempts`), so a redelivered message cannot loop forever.
Queues come from CELERY_TASK_ROUTES: sends on `notifications`, the drain on
`reconciliation`.
"""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True,
             max_retries=None, ignore_result=True)
def send_notification_task(self, notification_id: str) -> None:
    retry_in = services.dispatch(notification_id)
    if retry_in is not None:
        raise self.retry(countdown=retry_in)


@shared_task(acks_late=True, ignore_result=True)
def drain_outbox_task() -> dict:
    return services.drain_outbox()
