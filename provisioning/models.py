"""The provisioning request, its state machine, and idempotency keys.

Transitions only change fields; they never call anything outside. Services lock the
row, call one transition and save inside a transaction (see services.py). The
post_transition receiver in core/transitions.py appends a TransitionLog row in that
same transaction.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from core.crypto.fields import EncryptedJSONField
from core.statements import TracksLoadedValues
from tokens import wallets


class State(models.TextChoices):
    RECEIVED = "received"
    ELIGIBLE = "eligible"
    INELIGIBLE = "ineligible"
    TOKEN_REQUESTED = "token_requested"
    STEP_UP_REQUIRED = "step_up_required"
    PROVISIONED = "provisioned"
    DECLINED = "declined"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


# No transition leaves a terminal state.
TERMINAL_STATES = frozenset(
    {State.INELIGIBLE, State.PROVISIONED, State.DECLINED, State.EXPIRED, State.CANCELLED}
)
# Where a request stops moving on its own: the terminal states and `failed`, which only
# operations move on (retry_failed_request). Waiting for an outcome means waiting for these.
ENDED_STATES = TERMINAL_STATES | {State.FAILED}
# States beat watches: a request should not sit in one of these for long.
MOVING_STATES = (State.RECEIVED, State.ELIGIBLE, State.TOKEN_REQUESTED)


# The wallets of the registry (tokens/wallets.py): a new entry there is a new choice here.
Wallet = models.TextChoices(
    "Wallet", [(kind.code.upper(), (kind.code, kind.label)) for kind in wallets.WALLETS.values()])


class ProvisioningRequest(TracksLoadedValues, ConcurrentTransitionMixin, models.Model):
    TRANSITION_LOG_MACHINE = "provisioning_request"  # every move lands in core.TransitionLog

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer_id = models.CharField(max_length=64)
    card_id = models.CharField(max_length=64)
    wallet = models.CharField(max_length=16, choices=Wallet.choices)
    device_id = models.CharField(max_length=128)
    device_type = models.CharField(max_length=32)
    device_os = models.CharField(max_length=32)
    wallet_account_id = models.CharField(max_length=128, blank=True, default="")
    # The wallet's own block from the API request (tokens/wallets.py: Apple Pay's
    # certificates, nonce and signature), sealed at rest; needed again if the provision
    # call is retried, erased with the wallet payload once the request is over.
    wallet_data = EncryptedJSONField()

    state = FSMField(default=State.RECEIVED, choices=State.choices, protected=True)

    # Learned from the issuer; never the PAN.
    card_last4 = models.CharField(max_length=4, blank=True, default="")
    card_product = models.CharField(max_length=32, blank=True, default="")
    customer_msisdn = models.CharField(max_length=20, blank=True, default="")

    failure_code = models.CharField(max_length=64, blank=True, default="")
    failure_message = models.CharField(max_length=255, blank=True, default="")
    # Outside attempts made in the current state; bounds retries even when a broker
    # message is redelivered and Celery's own retry counter starts over.
    attempts = models.PositiveIntegerField(default=0)
    redrives = models.PositiveIntegerField(default=0)

    # The wallet payload, sealed at rest (core.crypto.fields: AES-256-GCM, bound to this row),
    # and when it is erased (set to None).
    wallet_payload = EncryptedJSONField()
    wallet_payload_expires_at = models.DateTimeField(null=True, blank=True)
    wallet_payload_erased_reason = models.CharField(max_length=32, blank=True, default="")
    # Step-up (yellow path): the one-time code as a keyed hash, never the code itself.
    otp_hash = models.CharField(max_length=64, blank=True, default="")
    otp_expires_at = models.DateTimeField(null=True, blank=True)
    otp_attempts_left = models.PositiveSmallIntegerField(default=0)
    otp_sends = models.PositiveSmallIntegerField(default=0)
    otp_last_sent_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    state_changed_at = models.DateTimeField(default=timezone.now)
    # When beat should look at this request next if it has not moved by then: set on
    # entering a moving state (now + its stuck threshold) and on every re-drive; null in
    # terminal states, so the sweep's index holds only requests that can get stuck.
    due_at = models.DateTimeField(null=True, blank=True)
    pan_fingerprint = models.CharField(max_length=64, blank=True, default="")
    # The issuer's own decision (decisioning rules) and the combined decision's reason codes.
    issuer_decision = models.CharField(max_length=8, blank=True, default="")
    token_service_decision = models.CharField(max_length=8, blank=True, default="")
    decision_reasons = models.JSONField(default=list, blank=True)
    # The correlation id of the API call that created the request, so work re-driven by
    # beat later still carries it.
    correlation_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # Beat's sweep: "due requests in state S", cost grows with stuck rows only.
            models.Index(
                fields=["due_at", "state"],
                name="pr_due_idx",
                condition=Q(due_at__isnull=False),
            ),
            models.Index(fields=["state", "state_changed_at"], name="pr_state_age_idx"),
            models.Index(fields=["customer_id", "-created_at"], name="pr_customer_created_idx"),
            models.Index(
                fields=["wallet_payload_expires_at"],
                name="pr_payload_expiry_idx",
                condition=Q(wallet_payload__isnull=False),
            ),
            # The erase job's second half: wallet data of requests that are over.
            models.Index(fields=["state"], name="pr_wallet_data_idx",
                         condition=Q(wallet_data__isnull=False)),
        ]
        permissions = [
            ("retry_provisioningrequest", "Can retry a failed provisioning request"),
            ("cancel_provisioningrequest", "Can cancel a provisioning request"),
            ("expire_provisioningrequest", "Can expire a step-up"),
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.state})"

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    # --- transitions ---------------------------------------------------------------
    # Every transition takes `by` (a Trigger), optional `actor` (admin user) and
    # `reason`; transition_log.py records them.

    def _entered(self, target: str) -> None:
        now = timezone.now()
        self.state_changed_at = now
        self.attempts = 0
        stuck_after = settings.STUCK_AFTER.get(target)
        self.due_at = now + stuck_after if stuck_after else None

    @transition(field=state, source=State.RECEIVED, target=State.ELIGIBLE)
    def mark_eligible(self, *, by, reason="", actor=None, card_last4="", card_product="",
                      customer_msisdn="", issuer_decision="green", decision_reasons=None):
        self._entered(State.ELIGIBLE)
        self.issuer_decision = issuer_decision
        self.decision_reasons = list(decision_reasons or [])
        self.card_last4 = card_last4
        self.card_product = card_product
        self.customer_msisdn = customer_msisdn

    @transition(field=state, source=State.RECEIVED, target=State.INELIGIBLE)
    def mark_ineligible(self, *, by, reason="", actor=None, card_last4="", customer_msisdn="",
                        issuer_decision="", decision_reasons=None):
        self._entered(State.INELIGIBLE)
        self.card_last4 = card_last4 or self.card_last4
        # Kept so the customer can be told why (the issuer knows the number even then).
        self.customer_msisdn = customer_msisdn or self.customer_msisdn
        self.issuer_decision = issuer_decision or self.issuer_decision
        self.decision_reasons = decision_reasons or self.decision_reasons
        self.failure_code = reason or "issuer_ineligible"
        self.failure_message = "The card issuer does not allow this card in this wallet."

    @transition(field=state, source=State.ELIGIBLE, target=State.TOKEN_REQUESTED)
    def mark_token_requested(self, *, by, reason="", actor=None, pan_fingerprint=""):
        self._entered(State.TOKEN_REQUESTED)
        self.pan_fingerprint = pan_fingerprint

    @transition(field=state, source=[State.TOKEN_REQUESTED, State.STEP_UP_REQUIRED],
                target=State.PROVISIONED)
    def mark_provisioned(self, *, by, reason="", actor=None):
        self._entered(State.PROVISIONED)

    @transition(field=state, source=State.TOKEN_REQUESTED, target=State.STEP_UP_REQUIRED)
    def require_step_up(self, *, by, reason="", actor=None):
        self._entered(State.STEP_UP_REQUIRED)

    @transition(field=state, source=[State.TOKEN_REQUESTED, State.STEP_UP_REQUIRED],
                target=State.DECLINED)
    def decline(self, *, by, reason="token_service_declined", actor=None, message=""):
        self._entered(State.DECLINED)
        self.failure_code = reason
        self.failure_message = message or "The card could not be added to the wallet."

    @transition(field=state, source=State.STEP_UP_REQUIRED, target=State.EXPIRED,
                permission="provisioning.expire_provisioningrequest")
    def expire(self, *, by, reason="step_up_expired", actor=None):
        self._entered(State.EXPIRED)
        self.failure_code = reason
        self.failure_message = "The one-time code was not entered in time."

    @transition(field=state,
                source=[State.RECEIVED, State.ELIGIBLE, State.STEP_UP_REQUIRED],
                target=State.CANCELLED,
                permission="provisioning.cancel_provisioningrequest")
    def cancel(self, *, by, reason="cancelled_by_customer", actor=None):
        self._entered(State.CANCELLED)
        self.failure_code = reason
        self.failure_message = "The request was cancelled."

    @transition(field=state, source=[State.RECEIVED, State.ELIGIBLE, State.TOKEN_REQUESTED],
                target=State.FAILED)
    def fail(self, *, by, reason, actor=None, message=""):
        self._entered(State.FAILED)
        self.failure_code = reason
        self.failure_message = message or "The request could not be completed."

    @transition(field=state, source=State.FAILED, target=State.RECEIVED,
                permission="provisioning.retry_provisioningrequest")
    def retry(self, *, by, reason="operations_retry", actor=None):
        self._entered(State.RECEIVED)
        self.failure_code = ""
        self.failure_message = ""
        self.redrives = 0


class IdempotencyKey(models.Model):
    """Stripe-style idempotency for POST /provisioning-requests, per customer."""

    class Status(models.TextChoices):
        IN_FLIGHT = "in_flight"
        COMPLETED = "completed"

    customer_id = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.IN_FLIGHT)
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    provisioning_request = models.ForeignKey(
        ProvisioningRequest, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer_id", "key"], name="idem_customer_key_uniq")
        ]
        indexes = [models.Index(fields=["created_at"], name="idem_created_idx")]
