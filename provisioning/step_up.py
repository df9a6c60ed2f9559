"""Step-up by one-time code (the yellow path): issue, verify, resend, expire.

The code is six digits from `secrets`, kept only as HMAC-SHA256 under OTP_HASH_KEY and
bound to the request id, and reaches the customer by SMS only (the notifications
outbox holds it sealed until sent). Verification and expiry both take the request's
row lock, so a verify racing the expiry sweep ends in exactly one of the two outcomes.
A code that cannot reach the customer (no number on file, or its SMS failing for its
whole delivery budget) ends the step-up at once instead of at expiry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import math
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from core.errors import ApplicationError, StateConflict
from core.lookups import owned_or_404
from core.models import Trigger
from notifications.services import queue_one_time_code, sms_number_for
from tokens.services import request_token_change

from . import lock_objects, tasks
from .models import ProvisioningRequest, State

logger = logging.getLogger(__name__)


class OtpInvalid(ApplicationError):
    """A well-formed code that was not accepted (wrong, or the last wrong one, or too late):
    422, the body was valid (a malformed one is 400 `validation_error`)."""

    code = "otp_invalid"
    status_code = 422
    message = "The one-time code is not right."


class ResendRefused(ApplicationError):
    status_code = 429


@dataclass(frozen=True)
class VerifyOutcome:
    """What a verify did; the view turns a failure into a coded 422 after the commit."""

    request: ProvisioningRequest
    accepted: bool
    error_code: str = ""
    attempts_left: int = 0


def hash_code(request_id, code: str) -> str:
    key = base64.b64decode(settings.OTP_HASH_KEY)
    return hmac.new(key, f"{request_id}:{code}".encode(), hashlib.sha256).hexdigest()


def _new_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


def _issue_code(request: ProvisioningRequest, sequence: int) -> None:
    """Set a fresh code on the (locked) row and queue its SMS in the same transaction."""
    now = timezone.now()
    code = _new_code()
    request.otp_hash = hash_code(request.pk, code)
    request.otp_expires_at = now + timedelta(seconds=settings.OTP_TTL_SECONDS)
    request.otp_sends = sequence
    request.otp_last_sent_at = now
    request.due_at = request.otp_expires_at  # beat expires it if nothing happens
    request.save()
    queue_one_time_code(request=request, code=code, sequence=sequence)


def start(request: ProvisioningRequest, *, by: str = Trigger.WORKER) -> None:
    """Called inside the transaction that moved the request to `step_up_required`.

    A customer with no number on file would wait ten minutes for a code never sent: the
    step-up ends at once instead (`step_up_no_number`).
    """
    request.otp_attempts_left = settings.OTP_MAX_ATTEMPTS
    if not sms_number_for(request.customer_id, request.customer_msisdn):
        _end_unreachable(request, "step_up_no_number", by=by)
        return
    _issue_code(request, sequence=1)


def activation_in_progress(request: ProvisioningRequest) -> bool:
    """The code was accepted (verify clears its expiry) and the token is being activated:
    nothing may end the step-up now but the activation's own outcome."""
    return request.state == State.STEP_UP_REQUIRED and request.otp_expires_at is None


def end_unreachable_step_up(request_id, code: str, *, sequence: int | None = None,
                            by: str = Trigger.WORKER) -> bool:
    """The code's SMS could not be delivered (every attempt within its budget failed): end
    the step-up now rather than at expiry. A failure of an older code, after a resend, or
    one arriving after the code was accepted changes nothing. True if it moved."""
    with transaction.atomic():
        request = lock_objects.provisioning_request_for_update(request_id)
        if request.state != State.STEP_UP_REQUIRED or activation_in_progress(request):
            return False
        if sequence is not None and sequence != request.otp_sends:
            return False  # a fresher code went out since; its own delivery decides
        _end_unreachable(request, code, by=by)
    logger.warning("step-up ended: the code could not reach the customer",
                   extra={"request_id": str(request_id), "failure_code": code})
    return True


def _end_unreachable(request: ProvisioningRequest, code: str, *, by: str) -> None:
    """On the locked row in `step_up_required`: declined with a coded reason, the code
    dropped, the unused token deleted at the token service after commit."""
    request.decline(by=by, reason=code,
                    message="The one-time code could not be sent to the customer.")
    request.otp_hash = ""
    request.save()
    delete_unused_token_on_commit(request)


def _customer_request_for_update(customer_id: str | None, request_id) -> ProvisioningRequest:
    return owned_or_404(ProvisioningRequest.objects.select_for_update(), request_id,
                        customer_id=customer_id, message="No such provisioning request.")


def _not_in_step_up(request: ProvisioningRequest) -> StateConflict:
    return StateConflict(f"The request is '{request.state}', not waiting for a one-time code.",
                         code="not_in_step_up", details={"state": request.state})


def verify(customer_id: str, request_id, code: str) -> VerifyOutcome:
    """Check a code. Right: activation is enqueued. Wrong: one attempt fewer, the last
    wrong code declines. Late: the request expires. The row change commits either way."""
    with transaction.atomic():
        request = _customer_request_for_update(customer_id, request_id)
        if request.state != State.STEP_UP_REQUIRED:
            raise _not_in_step_up(request)
        if request.otp_expires_at is None:
            # Already verified; activation is under way. Saying so beats a second 200.
            raise StateConflict("The one-time code was already accepted.",
                                code="otp_already_verified")
        now = timezone.now()
        if now >= request.otp_expires_at:
            request.expire(by=Trigger.API, reason="step_up_expired")
            request.save()
            delete_unused_token_on_commit(request)
            return VerifyOutcome(request, False, "otp_expired", 0)
        if hmac.compare_digest(hash_code(request.pk, code), request.otp_hash):
            request.otp_hash = ""
            request.otp_expires_at = None
            request.due_at = now + timedelta(seconds=settings.STEP_UP_ACTIVATION_STUCK_SECONDS)
            request.save()
            tasks.activate_step_up_token_task.delay_on_commit(str(request.pk))
            return VerifyOutcome(request, True, attempts_left=request.otp_attempts_left)
        request.otp_attempts_left = max(request.otp_attempts_left - 1, 0)
        if request.otp_attempts_left == 0:
            request.decline(by=Trigger.API, reason="otp_attempts_exhausted",
                            message="The one-time code was entered wrongly too many times.")
            request.otp_hash = ""
            request.save()
            delete_unused_token_on_commit(request)
            return VerifyOutcome(request, False, "otp_attempts_exhausted", 0)
        request.save()
        return VerifyOutcome(request, False, "otp_invalid", request.otp_attempts_left)


def resend(customer_id: str, request_id) -> ProvisioningRequest:
    """A fresh code by SMS; the old one stops working. Limited in count and in pace."""
    with transaction.atomic():
        request = _customer_request_for_update(customer_id, request_id)
        if request.state != State.STEP_UP_REQUIRED or request.otp_expires_at is None:
            raise _not_in_step_up(request)
        resends = max(request.otp_sends - 1, 0)
        if resends >= settings.OTP_MAX_RESENDS:
            raise ResendRefused("No more codes can be sent for this request.",
                                code="otp_resend_limit_reached",
                                details={"max_resends": settings.OTP_MAX_RESENDS})
        wait = (request.otp_last_sent_at + timedelta(seconds=settings.OTP_RESEND_INTERVAL_SECONDS)
                - timezone.now()).total_seconds()
        if wait > 0:
            retry_after = math.ceil(wait)
            raise ResendRefused("A code was sent moments ago; wait before asking again.",
                                code="otp_resend_too_soon",
                                details={"retry_after_seconds": retry_after},
                                headers={"Retry-After": str(retry_after)})
        _issue_code(request, sequence=request.otp_sends + 1)
    return request


def expire_step_up(request_id, *, by: str = Trigger.BEAT, actor=None,
                   only_if_overdue: bool = True) -> bool:
    """Expire a step-up (beat for overdue codes; operations at any time). True if it moved."""
    with transaction.atomic():
        request = lock_objects.provisioning_request_for_update(request_id)
        if request.state != State.STEP_UP_REQUIRED:
            return False
        if request.otp_expires_at is None:
            return False  # the code was accepted: activation is under way, never expire it
        if only_if_overdue and request.otp_expires_at > timezone.now():
            return False  # a fresh code was sent meanwhile
        try:
            request.expire(by=by, actor=actor, reason="step_up_expired")
        except TransitionNotAllowed:
            return False
        request.otp_hash = ""
        request.save()
        delete_unused_token_on_commit(request)
    return True


def delete_unused_token_on_commit(request: ProvisioningRequest) -> None:
    """The inactive token made for a step-up that failed is deleted at the token service."""
    token = getattr(request, "token", None)
    if token is not None and token.state != "deleted":
        request_token_change(token.pk, "delete", by=Trigger.WORKER,
                             reason=f"step_up_{request.state}")
