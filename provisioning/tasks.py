"""Thin Celery tasks: load by id, call one service, map outside errors to retry or fail;
a step's task then runs the step it hands the request on to (core/handoff.py), so a push
the issuer and the token service both say yes to is one task: eligibility, token request,
provisioned (docs/adr/0013).

Late acks are safe because every service is idempotent (a state check at entry and
idempotency keys on outside calls). The retry budget is counted on the row
(`attempts`), so a message the broker redelivers cannot loop forever.
"""

from __future__ import annotations

import logging

from celery import shared_task

from core import handoff
from core.outside.http import PermanentError, TransientError

from . import activation, services, step_up, sweeps

logger = logging.getLogger(__name__)

_TASK_OPTIONS = {"acks_late": True, "reject_on_worker_lost": True, "max_retries": None,
                 "ignore_result": True}

# A step runs at most this many further steps in its own task (eligibility hands on to
# the token request, a poll that finds the call never arrived to a new one: one each).
# A bound, not a budget: the chain is finite anyway.
MAX_STEPS_PER_TASK = 4


def _run_step(name: str, request_id: str,
              loaded=None) -> tuple[float, TransientError] | None:
    """Run one step (on the request as the step before left it, when that ran in this
    task); (seconds, error) if it should be tried again later, else None."""
    step = getattr(services, _STEPS[name])
    try:
        step(request_id, loaded=loaded)
    except TransientError as exc:
        delay = services.handle_transient_failure(request_id, exc)
        if delay is None:
            return None
        logger.info("transient outside error, retrying",
                    extra={"request_id": request_id, "error_code": exc.code,
                           "retry_in_seconds": round(delay, 2)})
        return delay, exc
    except PermanentError as exc:
        services.handle_permanent_failure(request_id, exc)
    return None


def _drive(task, request_id: str) -> None:
    """Run this task's step, then, in this same task, each step it hands the request on
    to (core/handoff.py: a later step's retry is its own published task; whatever is still
    noted at the end is published)."""
    handoff.drive(task, request_id, _run_step, max_steps=MAX_STEPS_PER_TASK)


@shared_task(bind=True, **_TASK_OPTIONS)
def check_eligibility_task(self, request_id: str) -> None:
    _drive(self, request_id)


@shared_task(bind=True, **_TASK_OPTIONS)
def request_token_task(self, request_id: str) -> None:
    _drive(self, request_id)


@shared_task(bind=True, **_TASK_OPTIONS)
def poll_decision_task(self, request_id: str) -> None:
    _drive(self, request_id)


# Each step task's service in services.py, by name: services imports this module.
_STEPS = {
    check_eligibility_task.name: "check_eligibility",
    request_token_task.name: "request_token",
    poll_decision_task.name: "poll_decision",
}


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
