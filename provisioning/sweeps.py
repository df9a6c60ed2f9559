"""Beat's sweeps over provisioning requests: re-drive stuck requests, expire or re-drive
step-ups, erase wallet payloads past their time.

Each claims due rows with SKIP LOCKED and pushes their due time forward in the same
transaction, so two sweeps at once never claim the same row; follow-up tasks are
enqueued after commit. A row re-driven MAX_REDRIVES times without moving ends with a
coded reason instead of being re-driven for ever.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.models import Trigger
from core.observability import correlation

from . import lock_objects, step_up, tasks
from .models import MOVING_STATES, TERMINAL_STATES, ProvisioningRequest, State

logger = logging.getLogger(__name__)


def _enqueue_on_commit(task, request: ProvisioningRequest) -> None:
    """Enqueue after commit under the request's own correlation id, so a re-driven step
    logs (and sends outside) the id of the API call that started it, not the sweep's."""
    headers = {correlation.TASK_HEADER: request.correlation_id} if request.correlation_id else {}
    request_id = str(request.pk)
    transaction.on_commit(lambda: task.apply_async((request_id,), headers=headers))


def _out_of_redrives(request: ProvisioningRequest, give_up: Callable[[], None]) -> bool:
    """On the locked row: once its re-drives are spent, end it (`give_up` calls the
    transition with its coded reason) and say so; else leave it to be re-driven."""
    if request.redrives < settings.MAX_REDRIVES:
        return False
    give_up()
    request.save()
    return True


def redrive_due_requests(limit: int | None = None) -> dict[str, int]:
    """Re-drive stuck requests: move on every request that should be moving and is not
    (a lost message, a dead worker)."""
    limit = limit or settings.RECONCILE_BATCH_SIZE
    now = timezone.now()
    counts = {"redriven": 0, "failed": 0}
    with transaction.atomic():
        for request in lock_objects.due_requests_for_update(MOVING_STATES, now, limit):
            if _out_of_redrives(request, lambda: request.fail(
                    by=Trigger.BEAT, reason="redrive_limit_reached",
                    message="The request did not move after repeated re-drives.")):
                counts["failed"] += 1
                continue
            ProvisioningRequest.objects.filter(pk=request.pk).update(
                redrives=F("redrives") + 1, due_at=now + settings.STUCK_AFTER[request.state],
            )
            task = {
                State.RECEIVED: tasks.check_eligibility_task,
                State.ELIGIBLE: tasks.request_token_task,
                State.TOKEN_REQUESTED: tasks.poll_decision_task,
            }[request.state]
            _enqueue_on_commit(task, request)
            counts["redriven"] += 1
    if counts["redriven"] or counts["failed"]:
        logger.info("re-drove stuck requests", extra=counts)
    return counts


def sweep_step_ups(limit: int | None = None) -> dict[str, int]:
    """Expire overdue codes; re-drive (or give up on) verified step-ups whose activation
    has not finished."""
    limit = limit or settings.RECONCILE_BATCH_SIZE
    now = timezone.now()
    counts = {"expired": 0, "reactivated": 0, "declined": 0}
    with transaction.atomic():
        for request in lock_objects.due_requests_for_update([State.STEP_UP_REQUIRED], now, limit):
            if request.otp_expires_at is not None:
                if request.otp_expires_at <= now:
                    step_up.expire_step_up(request.pk, by=Trigger.BEAT)
                    counts["expired"] += 1
                else:  # a resend moved the deadline
                    ProvisioningRequest.objects.filter(pk=request.pk).update(
                        due_at=request.otp_expires_at)
                continue
            if _out_of_redrives(request, lambda: request.decline(
                    by=Trigger.BEAT, reason="token_activation_failed",
                    message="The token could not be activated.")):
                counts["declined"] += 1
                continue
            ProvisioningRequest.objects.filter(pk=request.pk).update(
                redrives=F("redrives") + 1, attempts=0,
                due_at=now + timedelta(seconds=settings.STEP_UP_ACTIVATION_STUCK_SECONDS))
            tasks.activate_step_up_token_task.delay_on_commit(str(request.pk))
            counts["reactivated"] += 1
    if any(counts.values()):
        logger.info("step-up sweep", extra=counts)
    return counts


def erase_expired_wallet_payloads(limit: int | None = None) -> int:
    """Erase wallet payloads past their time (the API then says `expired`), and the
    wallet data of requests that are over (no provision call will need it again)."""
    limit = limit or settings.RECONCILE_BATCH_SIZE
    _erase_wallet_data_of_finished_requests(limit)
    now = timezone.now()
    ids = list(
        ProvisioningRequest.objects.filter(wallet_payload__isnull=False,
                                           wallet_payload_expires_at__lte=now)
        .order_by("wallet_payload_expires_at")
        .values_list("pk", flat=True)[:limit]
    )
    erased = ProvisioningRequest.objects.filter(pk__in=ids, wallet_payload__isnull=False).update(
        wallet_payload=None, wallet_payload_erased_reason="expired")
    if erased:
        logger.info("wallet payloads erased", extra={"count": erased})
    return erased


def _erase_wallet_data_of_finished_requests(limit: int) -> int:
    """Terminal requests only: a failed one may still be retried by operations."""
    ids = list(ProvisioningRequest.objects.filter(wallet_data__isnull=False,
                                                  state__in=TERMINAL_STATES)
               .values_list("pk", flat=True)[:limit])
    erased = ProvisioningRequest.objects.filter(pk__in=ids, state__in=TERMINAL_STATES).update(
        wallet_data=None)
    if erased:
        logger.info("wallet data of finished requests erased", extra={"count": erased})
    return erased
