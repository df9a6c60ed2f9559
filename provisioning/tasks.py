"""Thin Celery tasks: load by id, call one service, map outside errors to retry or fail.

Late acks are safe because every service is idempotent (a state check at entry and
idempotency keys on outside calls). The retry budget is counted on the row
(`attempts`), so a message the broker redelivers cannot loop forever.
"""

from __future__ import annotations

import logging

from celery import shared_task

from core.outside.http import PermanentError, TransientError

from . import activation, services, step_up, sweeps

logger = logging.getLogger(__name__)

_TASK_OPTIONS = {"acks_late": True, "reject_on_worker_lost": True, "max_retries": None,
                 "ignore_result": True}


def _run_outside_step(task, step, request_id: str) -> None:
    try:
        step(request_id)
    except TransientError as exc:
        delay = services.handle_transient_failure(request_id, exc)
        if delay is None:
            return
        logger.info("transient outside error, retrying",
                    extra={"request_id": request_id, "error_code": exc.code,
                           "retry_in_seconds": round(delay, 2)})
        raise task.retry(countdown=delay, exc=exc)
    except PermanentError as exc:
        services.handle_permanent_failure(request_id, exc)


@shared_task(bind=True, **_TASK_OPTIONS)
def check_eligibility_task(self, request_id: str) -> None:
    _run_outside_step(self, services.check_eligibility, request_id)


@shared_task(bind=True, **_TASK_OPTIONS)
def request_token_task(self, request_id: str) -> None:
    _run_outside_step(self, services.request_token, request_id)


@shared_task(bind=True, **_TASK_OPTIONS)
def poll_decision_task(self, request_id: str) -> None:
    _run_outside_step(self, services.poll_decision, request_id)


@shared_task(bind=True, **_TASK_OPTIONS)
def activate_step_up_token_task(self, request_id: str) -> None:
    try:
        activation.activate_after_step_up(request_id)
    except TransientError as exc:
        delay = activation.retry_delay_for_step_up(request_id)
        if delay is None:
            return  # attempts spent: beat's step-up sweep declines it
        raise self.retry(countdown=delay, exc=exc)
    except PermanentError as exc:
        activation.decline_step_up(request_id, exc.code)


@shared_task(acks_late=True, ignore_result=True)
def end_unreachable_step_up_task(request_id: str, sequence: int) -> bool:
    return step_up.end_unreachable_step_up(request_id, "step_up_unreachable", sequence=sequence)


@shared_task(acks_late=True, ignore_result=True)
def redrive_due_requests_task() -> dict:
    return sweeps.redrive_due_requests()


@shared_task(acks_late=True, ignore_result=True)
def sweep_step_ups_task() -> dict:
    return sweeps.sweep_step_ups()


@shared_task(acks_late=True, ignore_result=True)
def erase_expired_wallet_payloads_task() -> int:
    return sweeps.erase_expired_wallet_payloads()
