"""Thin Celery tasks for tokens: lifecycle changes and reconciliation.

Activation after a step-up belongs to the flow that owns the request
(provisioning.tasks.activate_step_up_token_task).
"""

from __future__ import annotations

import logging

from celery import shared_task

from core.backoff import outside_retry_delay
from core.outside.http import PermanentError, TransientError

from . import services

logger = logging.getLogger(__name__)

_TASK_OPTIONS = {"acks_late": True, "reject_on_worker_lost": True, "ignore_result": True}


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
        raise self.retry(countdown=outside_retry_delay(self.request.retries + 1), exc=exc)
    except PermanentError as exc:
        logger.error("token change refused", extra={"token_id": token_id,
                                                      "operation": operation,
                                                      "error_code": exc.code})


@shared_task(acks_late=True, ignore_result=True)
def reconcile_tokens_task() -> dict:
    return services.reconcile_tokens()
