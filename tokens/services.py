"""Token use cases: create the token row for a decision, and (later) its lifecycle."""

from __future__ import annotations

import logging

from provisioning.models import ProvisioningRequest

from .models import Token, TokenState

logger = logging.getLogger(__name__)


def create_token(request: ProvisioningRequest, decision, *, active: bool, by: str) -> Token:
    """The token row for a green or yellow decision; call inside the request's transaction.

    Created `inactive`; a green decision activates it at once, so the log shows the move.
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
    token.save(force_insert=True)
    if active:
        token.activate(by=by, reason="token_service_green")
        token.save()
    return token


_LIFECYCLE_TRANSITIONS = {
    "token.suspended": "suspend",
    "token.resumed": "resume",
    "token.deleted": "delete_token",
}


def apply_lifecycle_event(event: dict, created_at) -> str:
    """Apply a token-service lifecycle event; an event older than the newest one applied
    never moves the token back. Returns the WebhookEvent outcome."""
    from django.db import transaction
    from django_fsm import TransitionNotAllowed

    from provisioning.models import Trigger

    from .models import WebhookEvent

    data = event["data"]
    token_ref = str(data.get("token_ref") or "")
    with transaction.atomic():
        token = Token.objects.select_for_update().filter(token_ref=token_ref).first()
        if token is None:
            return WebhookEvent.Outcome.UNKNOWN_OBJECT
        if token.last_event_at and created_at <= token.last_event_at:
            logger.info("stale token event ignored",
                        extra={"token_id": str(token.pk), "event_id": event["id"]})
            return WebhookEvent.Outcome.IGNORED
        token.last_event_at = created_at
        outcome = WebhookEvent.Outcome.APPLIED
        if event["type"] == "token.updated":
            token.token_last4 = str(data.get("token_last4") or token.token_last4)[:4]
            token.token_expiry = str(data.get("token_expiry") or token.token_expiry)[:5]
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
