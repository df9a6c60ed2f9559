"""Beat's re-drive of overdue transfers: a lost message or a dead worker never leaves a
transfer where it stopped. Each re-driven step is the worker's own (steps.py)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.models import Trigger
from core.observability import correlation

from . import lock_objects
from .steps import reject
from .models import (
    MOVING_STATES,
    NetworkOutcome,
    State,
    Transfer,
)


logger = logging.getLogger(__name__)


# --- beat: stuck transfers --------------------------------------------------------------

def redrive_due_transfers(limit: int | None = None) -> dict[str, int]:
    """Move on every transfer that should be moving and is not (a lost message, a dead
    worker). Claims due rows with SKIP LOCKED and pushes their due time forward in the same
    transaction, so two sweeps never claim one row; follow-ups are enqueued after commit.

    A transfer that has not touched money is rejected after MAX_REDRIVES; one whose money
    is held is never abandoned (the inquiry budget ends an unknown outcome instead)."""
    from . import tasks

    limit = limit or settings.RECONCILE_BATCH_SIZE
    now = timezone.now()
    counts = {"redriven": 0, "given_up": 0}
    with transaction.atomic():
        for transfer in lock_objects.due_transfers_for_update(MOVING_STATES, now, limit):
            if transfer.redrives >= settings.MAX_REDRIVES and transfer.state in (
                    State.RECEIVED, State.CHECKED):
                task = (tasks.give_up_hold_task if transfer.state == State.CHECKED
                        else tasks.reject_stuck_transfer_task)
                counts["given_up"] += 1
            elif transfer.state == State.SUBMITTED:
                task = (tasks.settle_transfer_task if transfer.network_outcome in (
                    NetworkOutcome.APPROVED, NetworkOutcome.DECLINED)
                    else tasks.inquire_payout_task)
                counts["redriven"] += 1
            else:
                task = {State.RECEIVED: tasks.check_transfer_task,
                        State.CHECKED: tasks.hold_funds_task,
                        State.FUNDS_HELD: tasks.send_payout_task}[transfer.state]
                if transfer.state == State.FUNDS_HELD and transfer.network_outcome:
                    task = tasks.settle_transfer_task
                counts["redriven"] += 1
            Transfer.objects.filter(pk=transfer.pk).update(
                redrives=F("redrives") + 1,
                due_at=now + settings.TRANSFER_STUCK_AFTER[transfer.state])
            _enqueue_on_commit(task, transfer)
    if any(counts.values()):
        logger.info("re-drove stuck transfers", extra=counts)
    return counts


def _enqueue_on_commit(task, transfer: Transfer) -> None:
    headers = ({correlation.TASK_HEADER: transfer.correlation_id}
               if transfer.correlation_id else {})
    transfer_id = str(transfer.pk)
    transaction.on_commit(lambda: task.apply_async((transfer_id,), headers=headers))


def reject_stuck_transfer(transfer_id) -> bool:
    return reject(transfer_id, "redrive_limit_reached",
                   "We could not check this transfer. Please try again.",
                   from_states={State.RECEIVED}, by=Trigger.BEAT)
