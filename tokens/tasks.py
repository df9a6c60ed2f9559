"""Thin Celery tasks for tokens: activation after step-up, lifecycle changes, reconciliation."""

from __future__ import annotations

import logging

from celery import shared_task

from core.outside.http import PermanentError, TransientError
from provisioning import services as provisioning_services

from . import services

logger = logging.getLogger(__name__)

_TASK_OPTIONS = {"acks_late": True, "reject_on_worker_lost": True, "ignore_result": True}


@shared_task(bind=True, max_retries=None, **_TASK_OPTIONS)
def activate_step_up_token_task(self, request_id: str) -> None:
    try:
        services.activate_after_step_up(request_id)
    except TransientError as exc:
        delay = provisioning_services.retry_delay_for_step_up(request_id)
        if delay is None:
            return  # attempts spent: beat's step-up sweep declines it
        raise self.retry(countdown=delay, exc=exc)
    except PermanentError as exc:
        provisioning_services.decline_step_up(request_id, exc.code)


@shared_task(bind=True, max_retries=8, **_TASK_OPTIONS)
def change_token_task(self, token_id: str, operation: str, sequence: int, by: str = "worker",
                      actor: str = "", reason: str = "") -> None:
    try:
        services.apply_token_change(token_id, operation, sequence, by=by, actor=actor,
                                    reason=reason)
    except TransientError as exc:
        if self.request.retries >= self.max_retries:
            # Beat's reconciliation compares the token with the token service later.
            logger.error("token change gave up", extra={"token_id": token_id,
                                                         "operation": operation,
                                                         "error_code": exc.code})
            return
        raise self.retry(countdown=provisioning_services.retry_delay(self.request.retries + 1),
                         exc=exc)
    except PermanentError as exc:
        logger.error("token change refused", extra={"token_id": token_id,
                                                      "operation": operation,
                                                      "error_code": exc.code})


@shared_task(acks_late=True, ignore_result=True)
def reconcile_tokens_task() -> dict:
    return services.reconcile_tokens()
