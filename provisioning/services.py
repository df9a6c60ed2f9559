"""Provisioning use cases: the one place that opens transactions, locks rows and moves
the request's state machine.

Beat's sweeps are in sweeps.py, the token's activation after a step-up in
activation.py, the one-time code itself in step_up.py.

A worker step hands the request to the next with `core.handoff.then`: in a worker task
the next step runs in the same task once this one's move has committed (ADR 0013);
anywhere else it is published. The create and operations' retry always publish.

Outside calls are made with no row lock held and no transaction open; their answer is
applied afterwards in a short transaction that re-checks the state: a worker step moves
the row it claimed, and the model's ConcurrentTransitionMixin refuses the save if the
row moved meanwhile (core/statements.py, docs/adr/0015). Every service is
idempotent: a re-delivered or duplicated task finds the state already moved and logs
a no-op, and every effectful outside call carries the request id as idempotency key.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Value
from django.utils import timezone
from django_fsm import ConcurrentTransition, TransitionNotAllowed

from core import handoff, statements
from core.backoff import outside_retry_delay
from core.crypto import vault
from core.errors import StateConflict
from core.lookups import owned_or_404
from core.models import Trigger
from core.observability import correlation
from core.outside.http import PermanentError, TransientError
from decisioning import services as decisioning
from decisioning.models import most_restrictive
from tokens import services as token_services
from tokens import token_service

from . import lock_objects, step_up, tasks
from .issuer import IssuerClient
from .models import MOVING_STATES, ProvisioningRequest, State
from .selectors import PushHistory

logger = logging.getLogger(__name__)

NO_SUCH_REQUEST = "No such provisioning request."


# --- create -------------------------------------------------------------------------

@dataclass(frozen=True)
class NewRequest:
    customer_id: str
    card_id: str
    wallet: str
    device_id: str
    device_type: str
    device_os: str
    wallet_account_id: str = ""
    wallet_data: dict[str, Any] | None = None  # the wallet's own block (tokens/wallets.py)


def create_provisioning_request(new: NewRequest) -> ProvisioningRequest:
    """Accept a push: the row in `received`, eligibility enqueued once it commits."""
    with transaction.atomic():
        _refuse_double_token(new)
        request = ProvisioningRequest.objects.create(
            customer_id=new.customer_id,
            card_id=new.card_id,
            wallet=new.wallet,
            device_id=new.device_id,
            device_type=new.device_type,
            device_os=new.device_os,
            wallet_account_id=new.wallet_account_id,
            wallet_data=new.wallet_data,
            due_at=timezone.now() + settings.STUCK_AFTER[State.RECEIVED],
            correlation_id=correlation.get(),
        )
        tasks.check_eligibility_task.delay_on_commit(str(request.id))
    logger.info("provisioning request received",
                extra={"request_id": str(request.id), "wallet": new.wallet})
    return request


class AlreadyProvisioned(StateConflict):
    code = "already_provisioned"
    message = "This card already has a live token in this wallet on this device."


class ProvisioningInProgress(StateConflict):
    code = "provisioning_in_progress"
    message = "This card is already being added to this wallet on this device."


def _refuse_double_token(new: NewRequest) -> None:
    """One live token (or one push under way) per card, wallet and device.

    A transaction-scoped advisory lock on the tuple serialises two concurrent pushes of
    the same card, so both cannot pass this check; the partial unique constraint on
    Token backs it up for whatever slips past (a re-driven old request).
    """
    if connection.vendor == "postgresql":
        key = f"push:{new.customer_id}:{new.card_id}:{new.wallet}:{new.device_id}"
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])
    # Both questions in one statement: a live token, and a push of the tuple under way.
    live = token_services.live_tokens_for(new.customer_id, new.card_id, new.wallet,
                                          new.device_id)
    moving = ProvisioningRequest.objects.filter(
        customer_id=new.customer_id, card_id=new.card_id, wallet=new.wallet,
        device_id=new.device_id,
        state__in=[*MOVING_STATES, State.STEP_UP_REQUIRED],
    )
    found = dict(live.order_by().annotate(kind=Value("token"))
                 .values_list("kind", "provisioning_request_id")
                 .union(moving.order_by().annotate(kind=Value("request"))
                        .values_list("kind", "pk"), all=True))
    if "token" in found:
        raise AlreadyProvisioned(details={"card_id": new.card_id, "wallet": new.wallet})
    if "request" in found:
        raise ProvisioningInProgress(details={"provisioning_request_id": str(found["request"])})


# --- selectors ------------------------------------------------------------------------

def get_customer_request(customer_id: str, request_id) -> ProvisioningRequest:
    """The customer's own request; anyone else's is indistinguishable from a missing one."""
    return owned_or_404(ProvisioningRequest.objects.select_related("token"), request_id,
                        customer_id=customer_id, message=NO_SUCH_REQUEST)


# --- worker steps ---------------------------------------------------------------------

def _begin_attempt(request_id, states) -> ProvisioningRequest | None:
    """Count one outside attempt on the row and load it, in one statement; None if the
    request has left `states`.

    The count lives on the row, not in the broker message, so a task redelivered by
    the broker cannot retry forever; the state check in the WHERE clause makes a
    duplicate task see no row. The step later moves this very instance: the model's
    ConcurrentTransitionMixin refuses the save if another process moved the row in
    between (core/statements.py).
    """
    return statements.claim_step(ProvisioningRequest, request_id, states)


def _state_of(request_id) -> str:
    """Where a request the step could not claim stands (for the no-op's log line); a
    request that does not exist at all is an error, not a no-op."""
    state = ProvisioningRequest.objects.filter(pk=request_id).values_list(
        "state", flat=True).first()
    if state is None:
        raise ProvisioningRequest.DoesNotExist(f"No provisioning request {request_id}.")
    return state


def _noop(request_id, step: str, state: str) -> None:
    logger.info("no-op: request is no longer waiting for this step",
                extra={"request_id": str(request_id), "step": step, "state": state})


def check_eligibility(request_id, *, loaded=None) -> None:
    request = _begin_attempt(request_id, State.RECEIVED)
    if request is None:
        return _noop(request_id, "check_eligibility", _state_of(request_id))

    result = IssuerClient().check_eligibility(
        card_id=request.card_id, customer_id=request.customer_id,
        wallet=request.wallet, device_id=request.device_id,
    )
    # The issuer's own rules (SIM swap, velocity, device...) run only for a card the
    # issuer host allows at all; they may call the telco, so outside any transaction.
    issuer = (decisioning.evaluate(request, result, history=PushHistory(request))
              if result.eligible else None)

    try:
        with transaction.atomic():
            if issuer is not None and issuer.outcome != "red":
                request.mark_eligible(
                    by=Trigger.WORKER, reason="issuer_eligible", card_last4=result.card_last4,
                    card_product=result.card_product, customer_msisdn=result.customer_msisdn,
                    issuer_decision=issuer.outcome, decision_reasons=issuer.reason_codes,
                )
                if handoff.runs_next_in_this_task():
                    # The token request runs next, in this task, on this very row: its
                    # first attempt is counted with this move instead of by a claim.
                    request.attempts = 1
                statements.save_changed(request)
                # Next in this worker task once the move commits (core/handoff.py).
                handoff.then(tasks.request_token_task, request.id, loaded=request)
            elif issuer is not None:
                request.mark_ineligible(
                    by=Trigger.WORKER, reason=issuer.reason_codes[0] if issuer.reason_codes
                    else "issuer_rules_declined", card_last4=result.card_last4,
                    customer_msisdn=result.customer_msisdn, issuer_decision="red",
                    decision_reasons=issuer.reason_codes,
                )
                statements.save_changed(request)
            else:
                request.mark_ineligible(by=Trigger.WORKER, reason=result.reason,
                                        card_last4=result.card_last4,
                                        customer_msisdn=result.customer_msisdn)
                statements.save_changed(request)
            if issuer is not None:
                decisioning.record(request, issuer)
    except ConcurrentTransition:
        # Moved by someone else during the outside calls (cancelled, failed by beat):
        # the move, its log and outbox rows rolled back together.
        return _noop(request_id, "check_eligibility", "moved")


def request_token(request_id, *, loaded: ProvisioningRequest | None = None) -> None:
    """Fetch card data, encrypt it, ask the token service for a token, apply the answer.

    Runs from `eligible`, and again from `token_requested` when re-driven: the provision
    call's idempotency key (the request id) makes the repeat a replay, not a new token.
    `loaded` is the row as eligibility left it in this same task, its attempt already
    counted; otherwise the row is claimed here.
    """
    if loaded is not None and loaded.state == State.ELIGIBLE:
        request = loaded
    else:
        request = _begin_attempt(request_id, (State.ELIGIBLE, State.TOKEN_REQUESTED))
    if request is None:
        return _noop(request_id, "request_token", _state_of(request_id))

    card = IssuerClient().card_data(card_id=request.card_id, customer_id=request.customer_id)
    fingerprint = vault.pan_fingerprint(card.pan)
    if request.state == State.ELIGIBLE and token_services.live_token_for_fingerprint(
            fingerprint, request.wallet, request.device_id):
        # The same card under another card id (a reissued id, a second account view):
        # the keyed fingerprint finds it without the PAN ever being stored.
        fail_request(request_id, "already_provisioned",
                     "This card already has a live token in this wallet on this device.")
        return

    if request.state == State.ELIGIBLE:
        try:
            with transaction.atomic():
                request.mark_token_requested(by=Trigger.WORKER, reason="provision_call",
                                             pan_fingerprint=fingerprint)
                request.attempts = 1  # keep counting this attempt in the new state
                statements.save_changed(request)
        except ConcurrentTransition:
            return _noop(request_id, "request_token", "moved")

    call = token_service.ProvisionCall(
        request_id=str(request.id),
        wallet=request.wallet,
        device={"id": request.device_id, "type": request.device_type, "os": request.device_os},
        card=card.as_jwe_payload(),
        wallet_account_id=request.wallet_account_id,
        wallet_data=request.wallet_data,
        issuer_decision=request.issuer_decision or "green",
    )
    del card  # the PAN leaves memory with the call object
    decision = token_service.TokenServiceClient().provision(call)
    apply_decision(request_id, decision, by=Trigger.WORKER, loaded=request)


def apply_decision(request_id, decision, *, by: str,
                   loaded: ProvisioningRequest | None = None) -> bool:
    """Apply a token-service decision (from the answer, a webhook or a poll) once.

    Returns True when it moved the request; a decision for a request that has already
    left `token_requested` is a no-op (the webhook and the poll may both bring it).
    `loaded` is the row as the calling step left it in `token_requested`: it is moved
    as it is, and a save finds out if the webhook moved the row first (the model's
    ConcurrentTransitionMixin); without it the row is read under a lock.
    """
    if decision.decision == "pending":
        logger.info("token service decision pending", extra={"request_id": str(request_id)})
        return False
    try:
        return _apply_decision(request_id, decision, by=by, loaded=loaded)
    except ConcurrentTransition:
        _noop(request_id, f"apply_decision:{decision.decision}", "moved")
        return False


def _apply_decision(request_id, decision, *, by: str,
                    loaded: ProvisioningRequest | None) -> bool:
    with transaction.atomic():
        request = loaded or lock_objects.provisioning_request_for_update(request_id)
        if request.state != State.TOKEN_REQUESTED:
            _noop(request_id, f"apply_decision:{decision.decision}", request.state)
            return False
        # The most restrictive of the issuer's and the token service's decisions: an
        # issuer yellow forces the one-time code even when the token service says green.
        combined = most_restrictive(request.issuer_decision or "green", decision.decision)
        request.token_service_decision = decision.decision
        if combined != (request.issuer_decision or "green"):
            # The token service is the stricter party: its reason explains the outcome.
            # (When it only echoes our issuer decision, the issuer's reasons already do.)
            reason = decision.reason or f"token_service_{decision.decision}"
            request.decision_reasons = sorted({*request.decision_reasons, reason})
        # The request's move is saved before its token is inserted: a request another
        # process moved meanwhile stops at its save, before a second token is tried.
        if combined == "green":
            request.mark_provisioned(by=by, reason="token_service_green")
            _store_wallet_payload(request, decision.wallet_payload)
            statements.save_changed(request)
            token_services.create_token(request, decision, active=True, by=by)
        elif combined == "yellow":
            request.require_step_up(by=by, reason="token_service_yellow"
                                    if decision.decision == "yellow" else "issuer_yellow")
            _store_wallet_payload(request, decision.wallet_payload)
            statements.save_changed(request)
            token_services.create_token(request, decision, active=False, by=by)
            # Code issued and its SMS queued in this transaction; or, with no number to
            # send it to, the step-up ends here (declined, its token deleted).
            step_up.start(request, by=by)
        else:
            request.decline(by=by, reason="token_service_declined",
                            message="The card could not be added to this wallet.")
            statements.save_changed(request)
    return True


def _store_wallet_payload(request: ProvisioningRequest, payload: dict | None) -> None:
    if not payload:
        return
    request.wallet_payload = payload  # sealed by the field on save, bound to this row
    request.wallet_payload_expires_at = timezone.now() + settings.WALLET_PAYLOAD_TTL
    request.wallet_payload_erased_reason = ""


def poll_decision(request_id, *, loaded=None) -> None:
    """Ask the token service where a `token_requested` request stands (beat's re-drive)."""
    request = ProvisioningRequest.objects.get(pk=request_id)
    if request.state != State.TOKEN_REQUESTED:
        return _noop(request_id, "poll_decision", request.state)
    decision = token_service.TokenServiceClient().provision_status(str(request.id))
    if decision is None:
        # The provision call never arrived (lost before or during the call): send it again.
        logger.warning("token service never saw the request; re-sending",
                       extra={"request_id": str(request_id)})
        handoff.then(tasks.request_token_task, request_id)
        return
    apply_decision(request_id, decision, by=Trigger.BEAT)


# --- failures, retries ----------------------------------------------------------------

def fail_request(request_id, code: str, message: str = "", *, by: str = Trigger.WORKER) -> bool:
    with transaction.atomic():
        request = lock_objects.provisioning_request_for_update(request_id)
        try:
            request.fail(by=by, reason=code, message=message)
        except TransitionNotAllowed:
            _noop(request_id, f"fail:{code}", request.state)
            return False
        request.save()
    logger.warning("provisioning request failed",
                   extra={"request_id": str(request_id), "failure_code": code})
    return True


def handle_transient_failure(request_id, error: TransientError) -> float | None:
    """After a transient outside error: seconds until the next try, or None when the
    attempts on the row are spent and the request has been failed with the error's code."""
    attempts = ProvisioningRequest.objects.filter(pk=request_id).values_list(
        "attempts", flat=True).first()
    if attempts is None:
        return None
    if attempts >= settings.OUTSIDE_MAX_ATTEMPTS:
        fail_request(request_id, error.code,
                     f"{error.system or 'outside system'} kept failing: {error.message}")
        return None
    return outside_retry_delay(attempts)


def handle_permanent_failure(request_id, error: PermanentError) -> None:
    fail_request(request_id, error.code, error.message)


# --- customer and operations actions --------------------------------------------------

def cancel_request(customer_id: str, request_id, *, by: str = Trigger.API,
                   actor=None) -> ProvisioningRequest:
    """Withdraw a request (the customer, or operations in admin). During a step-up the
    inactive token is deleted at the token service; once the code has been accepted the
    token is being activated and the request can no longer be withdrawn."""
    with transaction.atomic():
        request = owned_or_404(ProvisioningRequest.objects.select_for_update(), request_id,
                               customer_id=customer_id, message=NO_SUCH_REQUEST)
        if step_up.activation_in_progress(request):
            raise StateConflict(
                "The one-time code was accepted and the card is being activated; "
                "the request can no longer be cancelled.",
                code="cancel_not_allowed",
                details={"state": request.state, "activation_in_progress": True},
            )
        stepping_up = request.state == State.STEP_UP_REQUIRED
        try:
            request.cancel(by=by, actor=actor, reason="cancelled_by_customer"
                           if str(by) == Trigger.API else "cancelled_by_operations")
        except TransitionNotAllowed:
            raise StateConflict(
                f"A request in state '{request.state}' cannot be cancelled.",
                code="cancel_not_allowed", details={"state": request.state},
            ) from None
        if stepping_up:
            request.otp_hash = ""  # the code dies with the request
        request.save()
        if stepping_up:
            step_up.delete_unused_token_on_commit(request)
    return request


def retry_failed_request(request_id, *, actor, by: str = Trigger.ADMIN) -> ProvisioningRequest:
    """Operations put a failed request back to `received`; it runs again from the start."""
    with transaction.atomic():
        request = lock_objects.provisioning_request_for_update(request_id)
        try:
            request.retry(by=by, actor=actor)
        except TransitionNotAllowed:
            raise StateConflict(f"A request in state '{request.state}' cannot be retried.",
                                code="retry_not_allowed") from None
        request.save()
        tasks.check_eligibility_task.delay_on_commit(str(request.id))
    return request
