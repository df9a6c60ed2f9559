"""The wallet token made for a provisioning request, and its lifecycle state machine.

The token service owns the truth; this row mirrors it. Transitions change fields only;
tokens/services.py calls the token service and then the transition.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone as dt_timezone

from django.db import models
from django.db.models import Q
from django_fsm import ConcurrentTransitionMixin, FSMField, transition


_NEVER = datetime(1970, 1, 1, tzinfo=dt_timezone.utc)


class TokenState(models.TextChoices):
    INACTIVE = "inactive"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DELETED = "deleted"


# A live token is in the wallet (suspended ones too: they can come back).
LIVE_STATES = (TokenState.ACTIVE, TokenState.SUSPENDED)


class SuspendedBy(models.TextChoices):
    """Who suspended a token, which decides who may lift the suspension: the app lifts
    only the customer's own; operations lift any in admin; the token service's own events
    (it owns the truth) move the token whatever this says."""

    CUSTOMER = "customer", "Customer (the app)"
    OPERATIONS = "operations", "Operations (admin; the user is in the history)"
    TOKEN_SERVICE = "token_service", "Token service or wallet"
    ISSUER = "issuer", "Issuer (through the token service)"


# Who a suspension by each trigger comes from; anything else (webhook, beat's
# reconciliation) is the token service's own.
_SUSPENDED_BY_TRIGGER = {"api": SuspendedBy.CUSTOMER, "admin": SuspendedBy.OPERATIONS}
# A second suspension of a suspended token is recorded when it comes from more authority.
_AUTHORITY = {"": 0, SuspendedBy.CUSTOMER: 1, SuspendedBy.OPERATIONS: 2,
              SuspendedBy.TOKEN_SERVICE: 3, SuspendedBy.ISSUER: 4}


def outranks(suspended_by: str, than: str) -> bool:
    return _AUTHORITY.get(suspended_by, 0) > _AUTHORITY.get(than, 0)


class Token(ConcurrentTransitionMixin, models.Model):
    TRANSITION_LOG_MACHINE = "token"  # every move lands in core.TransitionLog

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    provisioning_request = models.OneToOneField(
        "provisioning.ProvisioningRequest", on_delete=models.PROTECT, related_name="token"
    )
    customer_id = models.CharField(max_length=64)
    card_id = models.CharField(max_length=64)
    wallet = models.CharField(max_length=16)
    device_id = models.CharField(max_length=128)
    token_ref = models.CharField(max_length=64, unique=True)
    token_last4 = models.CharField(max_length=4, blank=True, default="")
    token_expiry = models.CharField(max_length=5, blank=True, default="")
    # HMAC-SHA256 of the PAN under PAN_FINGERPRINT_KEY: finds the same card across ids.
    pan_fingerprint = models.CharField(max_length=64, db_index=True)

    state = FSMField(default=TokenState.INACTIVE, choices=TokenState.choices, protected=True)
    # While suspended: who did it (empty otherwise).
    suspended_by = models.CharField(max_length=16, choices=SuspendedBy.choices, blank=True,
                                    default="")
    # Time of the newest token-service event applied, so an older one never moves it back.
    last_event_at = models.DateTimeField(null=True, blank=True)
    # Lifecycle operations asked of the token service, to make idempotency keys unique.
    operations_requested = models.PositiveIntegerField(default=0)
    # When beat last compared this token with the token service; "never" is the epoch,
    # so the reconciliation query is a plain range scan on a partial index.
    last_reconciled_at = models.DateTimeField(default=_NEVER)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    state_changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["customer_id", "-created_at"], name="token_customer_idx"),
            # Beat's reconciliation walks live tokens, least recently compared first.
            models.Index(fields=["last_reconciled_at"], name="token_reconcile_idx",
                         condition=~Q(state="deleted")),
        ]
        constraints = [
            # One live token per card, wallet and device: a second concurrent push that
            # slips past the API check fails here instead of making a double token.
            models.UniqueConstraint(
                fields=["customer_id", "card_id", "wallet", "device_id"],
                condition=Q(state__in=["active", "suspended"]),
                name="token_one_live_per_card_wallet_device",
            ),
        ]
        permissions = [("act_on_token", "Can suspend, resume or delete a token")]

    def __str__(self) -> str:
        return f"{self.token_ref} ({self.state})"

    def _entered(self) -> None:
        from django.utils import timezone

        self.state_changed_at = timezone.now()

    @transition(field=state, source=TokenState.INACTIVE, target=TokenState.ACTIVE)
    def activate(self, *, by, reason="", actor=None):
        self._entered()

    @transition(field=state, source=TokenState.ACTIVE, target=TokenState.SUSPENDED)
    def suspend(self, *, by, reason="", actor=None, suspended_by=""):
        """`suspended_by` when the trigger alone does not say (the issuer, by the token
        service's event); else the customer for the API, operations for admin, the token
        service for the rest."""
        self._entered()
        self.suspended_by = suspended_by or _SUSPENDED_BY_TRIGGER.get(
            str(by), SuspendedBy.TOKEN_SERVICE)

    @transition(field=state, source=TokenState.SUSPENDED, target=TokenState.ACTIVE)
    def resume(self, *, by, reason="", actor=None):
        self._entered()
        self.suspended_by = ""

    @transition(field=state,
                source=[TokenState.INACTIVE, TokenState.ACTIVE, TokenState.SUSPENDED],
                target=TokenState.DELETED)
    def delete_token(self, *, by, reason="", actor=None):
        self._entered()
        self.suspended_by = ""


class WebhookEvent(models.Model):
    """Every token-service webhook delivery we accepted, de-duplicated by event id."""

    class Outcome(models.TextChoices):
        APPLIED = "applied"
        IGNORED = "ignored"  # stale, or already in that state
        UNKNOWN_OBJECT = "unknown_object"  # shown to reconciliation

    event_id = models.CharField(max_length=64, unique=True)
    event_type = models.CharField(max_length=64)
    object_ref = models.CharField(max_length=64, blank=True, default="")
    event_created_at = models.DateTimeField()
    payload = models.JSONField()
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["outcome", "received_at"], name="webhook_outcome_idx",
                         condition=Q(outcome="unknown_object")),
        ]
