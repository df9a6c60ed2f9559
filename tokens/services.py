"""Token use cases: create the token for a decision, activate it when the flow says so, change
its lifecycle at the customer's (or operations') request, apply the token service's
events, and reconcile with the token service.

The token service owns the truth: our FSM moves after the token service has answered
(or told us by webhook), never before.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django_fsm import TransitionNotAllowed, can_proceed
from prometheus_client import Counter

from core.errors import StateConflict
from core.lookups import owned_or_404
from core.outside.http import PermanentError
from core.models import Trigger

from . import token_service
from .models import LIVE_STATES, SuspendedBy, Token, TokenState, outranks

logger = logging.getLogger(__name__)

RECONCILE_DRIFT = Counter("token_reconcile_drift_total",
                          "Tokens whose state differed from the token service's",
                          ["from_state", "to_state"])

OPERATIONS = {"suspend": "suspend", "resume": "resume", "delete": "delete_token"}
_REMOTE_TO_LOCAL = {"INACTIVE": TokenState.INACTIVE, "ACTIVE": TokenState.ACTIVE,
                    "SUSPENDED": TokenState.SUSPENDED, "DELETED": TokenState.DELETED}


def create_token(request, decision, *, active: bool, by: str) -> Token:
    """The token row for a green or yellow decision; call inside the request's transaction.

    `request` is the flow's row the token is born from (a ProvisioningRequest): the token
    copies what it needs from it and keeps the one-to-one link (ADR 0009).

    Born `inactive`; a green decision activates it before the row is written, so the
    log shows the move and the row is one INSERT.
    """
    token = Token(
        provisioning_request=request,
        customer_id=request.customer_id,
        card_id=request.card_id,
        wallet=request.wallet,
        device_id=request.device_id,
        token_ref=decision.token_ref,
        token_last4=decision.token_last4,
        token_expiry=decision.token_expiry,
        pan_fingerprint=request.pan_fingerprint,
        state=TokenState.INACTIVE,
    )
    if active:
        token.activate(by=by, reason="token_service_green")
    token.save(force_insert=True)
    return token


# --- selectors ------------------------------------------------------------------------

def get_customer_token(customer_id: str, token_id) -> Token:
    return owned_or_404(Token.objects.all(), token_id, customer_id=customer_id,
                        message="No such token.")


def live_token_for_fingerprint(fingerprint: str, wallet: str, device_id: str) -> bool:
    """The same card (by keyed PAN fingerprint) already live in this wallet on this device."""
    return Token.objects.filter(
        pan_fingerprint=fingerprint, wallet=wallet, device_id=device_id,
        state__in=LIVE_STATES,
    ).exists()


def live_tokens_for(customer_id: str, card_id: str, wallet: str, device_id: str):
    """The live token of a card in one wallet on one device (at most one: a constraint)."""
    return Token.objects.filter(
        customer_id=customer_id, card_id=card_id, wallet=wallet, device_id=device_id,
        state__in=LIVE_STATES,
    )


# --- activation (the flow that owns the request decides when) ---------------------------

def activate_at_token_service(token: Token, *, idempotency_key: str) -> None:
    """Ask the token service to activate an inactive token; no row lock held, no
    transaction open. A token already active there (an earlier attempt got through)
    counts as done: the caller aligns our row afterwards."""
    try:
        token_service.TokenServiceClient().change_token(token.token_ref, "activate",
                                                        idempotency_key=idempotency_key)
    except PermanentError as exc:
        if exc.code != "invalid_state":
            raise


def activate_locked(token_id, *, by: str, reason: str) -> Token:
    """Inside the caller's transaction: lock the token, activate it if still inactive."""
    token = Token.objects.select_for_update().get(pk=token_id)
    if token.state == TokenState.INACTIVE:
        token.activate(by=by, reason=reason)
        token.save()
    return token


# --- lifecycle requested by the customer or operations --------------------------------------

class ResumeNotAllowed(StateConflict):
    code = "resume_not_allowed"
    # Says neither who suspended the card nor why: that is for customer care to tell.
    message = "This card cannot be resumed from the app. Please contact M-Pesa customer care."


def _may_resume(token: Token, by: str) -> bool:
    """Only whoever suspended a token lifts it, or more authority: the app lifts the
    customer's own suspensions; operations (admin) lift any."""
    if str(by) == Trigger.API:
        return token.suspended_by == SuspendedBy.CUSTOMER
    return True


def request_token_change(token_id, operation: str, *, by: str, actor=None,
                         customer_id: str | None = None, reason: str = "") -> Token:
    """Accept a suspend/resume/delete: check it is legal now, enqueue the token-service
    call. The FSM moves when the token service has done it (202 semantics)."""
    from .tasks import change_token_task

    if operation not in OPERATIONS:
        raise StateConflict(f"Unknown operation {operation!r}.", code="invalid_operation")
    with transaction.atomic():
        token = owned_or_404(Token.objects.select_for_update(), token_id,
                             customer_id=customer_id, message="No such token.")
        if not can_proceed(getattr(token, OPERATIONS[operation])):
            raise StateConflict(f"A token in state '{token.state}' cannot be {operation}d.",
                                code="invalid_token_state", details={"state": token.state})
        if operation == "resume" and not _may_resume(token, by):
            logger.info("resume refused: suspended by someone else",
                        extra={"token_id": str(token.pk), "suspended_by": token.suspended_by})
            raise ResumeNotAllowed()
        Token.objects.filter(pk=token.pk).update(operations_requested=F("operations_requested") + 1)
        sequence = token.operations_requested + 1
        change_token_task.delay_on_commit(str(token.pk), operation, sequence,
                                          by=str(by), actor=getattr(actor, "username", "") or "",
                                          reason=reason)
    logger.info("token change requested", extra={"token_id": str(token.pk),
                                                  "operation": operation, "trigger": str(by)})
    return token


def apply_token_change(token_id, operation: str, sequence: int, *, by: str = Trigger.WORKER,
                       actor: str = "", reason: str = "") -> bool:
    """Worker side: ask the token service (idempotent per request), then move our FSM."""
    token = Token.objects.get(pk=token_id)
    if not can_proceed(getattr(token, OPERATIONS[operation])):
        logger.info("no-op: token already moved", extra={"token_id": str(token_id),
                                                          "state": token.state})
        return False
    if operation == "resume" and not _may_resume(token, by):
        # Suspended again, with more authority, after the app's resume was accepted.
        logger.info("no-op: resume no longer allowed", extra={
            "token_id": str(token_id), "suspended_by": token.suspended_by})
        return False
    client = token_service.TokenServiceClient()
    try:
        remote = client.change_token(token.token_ref, operation,
                                     idempotency_key=f"{token.pk}:{operation}:{sequence}",
                                     reason=reason)
        target = _REMOTE_TO_LOCAL[remote.status]
    except PermanentError as exc:
        if exc.code != "invalid_state" and exc.status != 404:
            raise
        # The token service refuses because the token is already elsewhere (a wallet-side
        # change we have not heard of yet): align with what it says.
        remote = client.get_token(token.token_ref)
        target = _REMOTE_TO_LOCAL[remote.status] if remote else TokenState.DELETED
        # A suspension found there is the token service's, not the asker's.
        return _align(token_id, target, by=by, actor=actor, reason=reason or operation,
                      suspended_by=SuspendedBy.TOKEN_SERVICE)
    return _align(token_id, target, by=by, actor=actor, reason=reason or operation)


def _align(token_id, target: str, *, by: str, actor="", reason: str = "",
           suspended_by: str = "") -> bool:
    """Move our token to `target` along legal transitions; True if it moved."""
    path = {
        (TokenState.INACTIVE, TokenState.ACTIVE): ["activate"],
        (TokenState.INACTIVE, TokenState.SUSPENDED): ["activate", "suspend"],
        (TokenState.ACTIVE, TokenState.SUSPENDED): ["suspend"],
        (TokenState.SUSPENDED, TokenState.ACTIVE): ["resume"],
    }
    with transaction.atomic():
        token = Token.objects.select_for_update().get(pk=token_id)
        source = token.state
        if source == target or source == TokenState.DELETED:
            return False
        moves = ["delete_token"] if target == TokenState.DELETED else path.get((source, target))
        if not moves:
            logger.warning("token cannot move to the token service's state",
                           extra={"token_id": str(token_id), "from": source, "to": target})
            return False
        for move in moves:
            extra = {"suspended_by": suspended_by} if move == "suspend" else {}
            getattr(token, move)(by=by, actor=actor or None, reason=reason, **extra)
        token.save()
    return True


# --- events from the token service ----------------------------------------------------------

_LIFECYCLE_TRANSITIONS = {
    "token.resumed": "resume",
    "token.deleted": "delete_token",
}


def apply_lifecycle_event(event: dict, created_at) -> str:
    """Apply a token-service lifecycle event; an event older than the newest one applied
    never moves the token back. Returns the WebhookEvent outcome."""
    from .models import WebhookEvent

    data = event["data"]
    token_ref = str(data.get("token_ref") or "")
    with transaction.atomic():
        token = Token.objects.select_for_update().filter(token_ref=token_ref).first()
        if token is None:
            return WebhookEvent.Outcome.UNKNOWN_OBJECT
        # Strictly older only: event times are whole seconds, and two real changes in the
        # same second (suspend, then resume) must both apply.
        if token.last_event_at and created_at < token.last_event_at:
            logger.info("stale token event ignored",
                        extra={"token_id": str(token.pk), "event_id": event["id"]})
            return WebhookEvent.Outcome.IGNORED
        token.last_event_at = created_at
        outcome = WebhookEvent.Outcome.APPLIED
        if event["type"] == "token.updated":
            token.token_last4 = str(data.get("token_last4") or token.token_last4)[:4]
            token.token_expiry = str(data.get("token_expiry") or token.token_expiry)[:5]
        elif event["type"] == "token.suspended":
            # The issuer may suspend through the token service; else it is its own (or
            # the wallet's) suspension.
            by_whom = (SuspendedBy.ISSUER if data.get("initiator") == "issuer"
                       else SuspendedBy.TOKEN_SERVICE)
            if token.state == TokenState.SUSPENDED:
                # Suspended already (by the customer, say): more authority takes over, so
                # the app can no longer lift what the token service put on top.
                if outranks(by_whom, token.suspended_by):
                    token.suspended_by = by_whom
                else:
                    outcome = WebhookEvent.Outcome.IGNORED
            else:
                try:
                    token.suspend(by=Trigger.WEBHOOK, reason=event["type"], suspended_by=by_whom)
                except TransitionNotAllowed:
                    outcome = WebhookEvent.Outcome.IGNORED  # inactive, or deleted
        elif event["type"] in _LIFECYCLE_TRANSITIONS:
            move = getattr(token, _LIFECYCLE_TRANSITIONS[event["type"]])
            try:
                move(by=Trigger.WEBHOOK, reason=event["type"])
            except TransitionNotAllowed:
                outcome = WebhookEvent.Outcome.IGNORED  # already there, or deleted
        else:
            outcome = WebhookEvent.Outcome.IGNORED
        token.save()
    return outcome


# --- beat: reconciliation -------------------------------------------------------------------

def reconcile_tokens(limit: int | None = None) -> dict[str, int]:
    """Compare the least recently checked live tokens with the token service and fix drift
    by transitions whose trigger is beat. Claims rows with SKIP LOCKED so two copies of
    the job never compare the same token."""
    from .models import WebhookEvent

    limit = limit or settings.TOKEN_RECONCILE_BATCH_SIZE
    now = timezone.now()
    horizon = now - timedelta(seconds=settings.TOKEN_RECONCILE_EVERY_SECONDS)
    with transaction.atomic():
        claimed = list(
            Token.objects.select_for_update(skip_locked=True)
            .exclude(state=TokenState.DELETED)
            .filter(last_reconciled_at__lt=horizon)
            .order_by("last_reconciled_at")
            .values_list("pk", "token_ref", "state")[:limit]
        )
        Token.objects.filter(pk__in=[pk for pk, _, _ in claimed]).update(last_reconciled_at=now)
    counts = {"checked": 0, "drift": 0, "errors": 0}
    client = token_service.TokenServiceClient()
    for pk, token_ref, state in claimed:
        counts["checked"] += 1
        try:
            remote = client.get_token(token_ref)
        except Exception as exc:  # one bad token must not stop the batch
            counts["errors"] += 1
            logger.warning("token reconciliation call failed",
                           extra={"token_id": str(pk), "error": type(exc).__name__})
            continue
        target = _REMOTE_TO_LOCAL[remote.status] if remote else TokenState.DELETED
        if target != state and _align(pk, target, by=Trigger.BEAT, reason="reconciliation"):
            counts["drift"] += 1
            RECONCILE_DRIFT.labels(state, target).inc()
    counts["unknown_events"] = WebhookEvent.objects.filter(
        outcome=WebhookEvent.Outcome.UNKNOWN_OBJECT, received_at__gte=now - timedelta(days=1)
    ).count()
    if counts["drift"] or counts["errors"] or counts["unknown_events"]:
        logger.warning("token reconciliation found differences", extra=counts)
    return counts
