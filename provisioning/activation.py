"""After a right one-time code: activate the request's token at the token service, then
mark the request provisioned; or, when the activation cannot be done, decline it.

The flow that owns the request decides here; tokens only does what it is asked
(tokens.services.activate_at_token_service, activate_locked).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django_fsm import TransitionNotAllowed

from core.backoff import outside_retry_delay
from core.models import Trigger
from tokens import services as token_services

from . import lock_objects
from .models import ProvisioningRequest, State

logger = logging.getLogger(__name__)


def activate_after_step_up(request_id) -> None:
    """Activate at the token service (no lock held), then provision in one transaction."""
    request = ProvisioningRequest.objects.select_related("token").get(pk=request_id)
    if request.state != State.STEP_UP_REQUIRED or request.otp_expires_at is not None:
        logger.info("no-op: nothing to activate", extra={"request_id": str(request_id),
                                                          "state": request.state})
        return
    ProvisioningRequest.objects.filter(pk=request_id).update(attempts=F("attempts") + 1)
    token = request.token
    token_services.activate_at_token_service(token, idempotency_key=f"{request_id}:activate")
    with transaction.atomic():
        request = lock_objects.provisioning_request_for_update(request_id)
        if request.state != State.STEP_UP_REQUIRED:
            return
        token_services.activate_locked(token.pk, by=Trigger.WORKER, reason="step_up_verified")
        request.mark_provisioned(by=Trigger.WORKER, reason="step_up_verified")
        request.save()


def retry_delay_for_step_up(request_id) -> float | None:
    """Backoff for a failed activation attempt; None once the row's attempts are spent."""
    attempts = ProvisioningRequest.objects.filter(pk=request_id).values_list(
        "attempts", flat=True).first()
    if attempts is None or attempts >= settings.OUTSIDE_MAX_ATTEMPTS:
        return None
    return outside_retry_delay(attempts)


def decline_step_up(request_id, code: str, *, by: str = Trigger.WORKER) -> bool:
    """A verified step-up whose token could not be activated ends declined, not stuck."""
    with transaction.atomic():
        request = lock_objects.provisioning_request_for_update(request_id)
        try:
            request.decline(by=by, reason=code,
                            message="The token could not be activated after the one-time code.")
        except TransitionNotAllowed:
            return False
        request.save()
    return True
