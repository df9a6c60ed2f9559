"""Thin Celery tasks of the Visa Direct flow: load by id, call one service, map outside
errors to retry or fail.

Late acks are safe because every service is idempotent (a state check or conditional
update at entry, idempotency keys derived from the transfer on every move of money).
The retry budget is counted on the row, so a redelivered message cannot loop forever.
"""

from __future__ import annotations

import logging

from celery import shared_task

from core.outside.http import PermanentError, TransientError

from . import checks, reconciliation, steps, sweeps

logger = logging.getLogger(__name__)

_TASK_OPTIONS = {"acks_late": True, "reject_on_worker_lost": True, "max_retries": None,
                 "ignore_result": True}


def _run_outside_step(task, step, transfer_id: str) -> None:
    try:
        step(transfer_id)
    except TransientError as exc:
        delay = steps.handle_transient_failure(transfer_id, exc)
        if delay is None:
            return
        logger.info("transient outside error, retrying",
                    extra={"transfer_id": transfer_id, "error_code": exc.code,
                           "retry_in_seconds": round(delay, 2)})
        raise task.retry(countdown=delay, exc=exc)
    except PermanentError as exc:
        steps.handle_permanent_failure(transfer_id, exc)


@shared_task(bind=True, **_TASK_OPTIONS)
def check_transfer_task(self, transfer_id: str) -> None:
    _run_outside_step(self, checks.check_transfer, transfer_id)


@shared_task(bind=True, **_TASK_OPTIONS)
def hold_funds_task(self, transfer_id: str) -> None:
    _run_outside_step(self, steps.hold_funds, transfer_id)


@shared_task(bind=True, **_TASK_OPTIONS)
def send_payout_task(self, transfer_id: str) -> None:
    # Unknown outcomes and refusals are handled inside the service (never retried here:
    # a repeat of the OCT is decided only by a status inquiry).
    steps.send_payout(transfer_id)


@shared_task(bind=True, **_TASK_OPTIONS)
def inquire_payout_task(self, transfer_id: str) -> None:
    steps.inquire_payout(transfer_id)


@shared_task(bind=True, **_TASK_OPTIONS)
def settle_transfer_task(self, transfer_id: str) -> None:
    _run_outside_step(self, steps.settle, transfer_id)


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
