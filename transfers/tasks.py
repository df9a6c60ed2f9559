"""Thin Celery tasks of the Visa Direct flow: load by id, call one service, map outside
errors to retry or fail; a step's task then runs the steps it hands the transfer on to
(core/handoff.py), so a transfer that meets no wait is one task.

Late acks are safe because every service is idempotent (a state check or conditional
update at entry, idempotency keys derived from the transfer on every move of money).
The retry budget is counted on the row, so a redelivered message cannot loop forever.
"""

from __future__ import annotations

import logging

from celery import shared_task

from core import handoff
from core.outside.http import PermanentError, TransientError

from . import checks, reconciliation, steps, sweeps

logger = logging.getLogger(__name__)

_TASK_OPTIONS = {"acks_late": True, "reject_on_worker_lost": True, "max_retries": None,
                 "ignore_result": True}


# A step runs at most this many further steps in its own task (check, hold, OCT, capture
# is four); anything beyond is published. A bound, not a budget: the chain is finite anyway.
MAX_STEPS_PER_TASK = 6


def _run_step(name: str, transfer_id: str,
              _loaded=None) -> tuple[float, TransientError] | None:
    """Run one step; (seconds, error) if it should be tried again later, else None."""
    step, maps_outside_errors = _STEPS[name]
    if not maps_outside_errors:
        # Unknown outcomes and refusals of the OCT are handled inside the step, never
        # retried here: a repeat of the OCT is decided only by a status inquiry.
        step(transfer_id)
        return None
    try:
        step(transfer_id)
    except TransientError as exc:
        delay = steps.handle_transient_failure(transfer_id, exc)
        if delay is None:
            return None
        logger.info("transient outside error, retrying",
                    extra={"transfer_id": transfer_id, "error_code": exc.code,
                           "retry_in_seconds": round(delay, 2)})
        return delay, exc
    except PermanentError as exc:
        steps.handle_permanent_failure(transfer_id, exc)
    return None


def _drive(task, transfer_id: str) -> None:
    """Run this task's step, then, in this same task, each step it hands the transfer on
    to (core/handoff.py: a later step's retry is its own published task; whatever is still
    noted at the end is published)."""
    handoff.drive(task, transfer_id, _run_step, max_steps=MAX_STEPS_PER_TASK)


@shared_task(bind=True, **_TASK_OPTIONS)
def check_transfer_task(self, transfer_id: str) -> None:
    _drive(self, transfer_id)


@shared_task(bind=True, **_TASK_OPTIONS)
def hold_funds_task(self, transfer_id: str) -> None:
    _drive(self, transfer_id)


@shared_task(bind=True, **_TASK_OPTIONS)
def send_payout_task(self, transfer_id: str) -> None:
    _drive(self, transfer_id)


@shared_task(bind=True, **_TASK_OPTIONS)
def inquire_payout_task(self, transfer_id: str) -> None:
    _drive(self, transfer_id)


@shared_task(bind=True, **_TASK_OPTIONS)
def settle_transfer_task(self, transfer_id: str) -> None:
    _drive(self, transfer_id)


# Each step task's service and whether its outside errors are mapped to retry or fail.
_STEPS = {
    check_transfer_task.name: (checks.check_transfer, True),
    hold_funds_task.name: (steps.hold_funds, True),
    send_payout_task.name: (steps.send_payout, False),
    inquire_payout_task.name: (steps.inquire_payout, False),
    settle_transfer_task.name: (steps.settle, True),
}


@shared_task(acks_late=True, ignore_result=True)
def give_up_hold_task(transfer_id: str) -> bool:
    return steps.give_up_hold(transfer_id, "redrive_limit_reached")


@shared_task(acks_late=True, ignore_result=True)
def reject_stuck_transfer_task(transfer_id: str) -> bool:
    return sweeps.reject_stuck_transfer(transfer_id)


@shared_task(acks_late=True, ignore_result=True)
def redrive_due_transfers_task() -> dict:
    return sweeps.redrive_due_transfers()


@shared_task(acks_late=True, ignore_result=True)
def reconcile_settlement_reports_task(today: str | None = None) -> dict:
    """Beat: yesterday's report and the recent days re-checked (`today`, YYYY-MM-DD, moves
    "yesterday" for a run by hand). A failed day is retried by the next run."""
    from datetime import date

    return reconciliation.reconcile_recent_days(date.fromisoformat(today) if today else None)
