"""Visa Direct: payees, fee schedules, quotes, and the Transfer with its state machine.

Transitions only change fields; they never call anything outside. Services lock the row,
call one transition and save inside a transaction (services.py); core/transitions.py
appends one TransitionLog row per transition in that same transaction. Money is integer
minor units of KES.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from core.crypto.fields import EncryptedJSONField


class Delivery(models.TextChoices):
    INSTANT = "instant"
    WITHIN_2_BUSINESS_DAYS = "within_2_business_days"


class Payee(models.Model):
    """A Visa card a customer sends money to. The PAN is kept only sealed by the vault
    (bound to this row and field) for the sends; the rest is what the network said."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer_id = models.CharField(max_length=64)
    name = models.CharField(max_length=60)
    # {"pan": "..."} sealed (AES-256-GCM, core.crypto.fields); None once erased.
    card = EncryptedJSONField()
    pan_fingerprint = models.CharField(max_length=64)
    last4 = models.CharField(max_length=4)
    # The attributes inquiry's answer.
    push_enabled = models.BooleanField(default=False)
    fast_funds = models.BooleanField(default=False)
    country = models.CharField(max_length=2, blank=True, default="")  # ISO 3166 alpha-2
    currency = models.CharField(max_length=3, blank=True, default="")  # ISO 4217 alpha
    card_product = models.CharField(max_length=1, blank=True, default="")
    issuer_name = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["customer_id", "-created_at"], name="payee_customer_idx"),
                   # The velocity rules: who else has paid this card (transfers/checks.py).
                   models.Index(fields=["pan_fingerprint"], name="payee_fingerprint_idx")]

    def __str__(self) -> str:
        return f"{self.name} ···· {self.last4}"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class FeeSchedule(models.Model):
    """One version of the fee: fixed part plus basis points of the amount, bounded.

    Versions are never edited in place (a quote names the version it was priced by);
    operations add a new version in admin, and the newest one in effect prices quotes."""

    version = models.PositiveIntegerField(unique=True)
    fixed_fee = models.PositiveBigIntegerField(default=0, help_text="minor units of KES")
    percent_bps = models.PositiveIntegerField(default=0, help_text="basis points of the amount")
    min_fee = models.PositiveBigIntegerField(default=0, help_text="minor units of KES")
    max_fee = models.PositiveBigIntegerField(null=True, blank=True,
                                             help_text="minor units of KES; empty: no cap")
    effective_from = models.DateTimeField(default=timezone.now)
    created_by = models.CharField(max_length=150, blank=True, default="")
    note = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"fee schedule v{self.version}"

    def fee_for(self, amount: int) -> int:
        """The fee in minor units: percentage rounded up to the next minor unit."""
        variable = -(-amount * self.percent_bps // 10_000)
        fee = max(self.fixed_fee + variable, self.min_fee)
        return min(fee, self.max_fee) if self.max_fee is not None else fee


class Quote(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer_id = models.CharField(max_length=64)
    payee = models.ForeignKey(Payee, on_delete=models.PROTECT, related_name="quotes")
    fee_schedule = models.ForeignKey(FeeSchedule, on_delete=models.PROTECT, related_name="+")
    amount = models.PositiveBigIntegerField()
    fee = models.PositiveBigIntegerField()
    total = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3, default="KES")
    delivery = models.CharField(max_length=32, choices=Delivery.choices)
    expires_at = models.DateTimeField()
    used = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=Q(total=models.F("amount") + models.F("fee")),
                                              name="quote_total_is_amount_plus_fee")]

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()


class State(models.TextChoices):
    RECEIVED = "received"
    IN_REVIEW = "in_review"
    CHECKED = "checked"
    FUNDS_HELD = "funds_held"
    SUBMITTED = "submitted"
    COMPLETED = "completed"
    DECLINED = "declined"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    NEEDS_ATTENTION = "needs_attention"


TERMINAL_STATES = frozenset({State.COMPLETED, State.DECLINED, State.REJECTED, State.CANCELLED})
# States beat watches: a transfer should not sit in one of these for long.
MOVING_STATES = (State.RECEIVED, State.CHECKED, State.FUNDS_HELD, State.SUBMITTED)
# Transfers that count against the customer's daily limit.
COUNTED_STATES = (State.RECEIVED, State.IN_REVIEW, State.CHECKED, State.FUNDS_HELD,
                  State.SUBMITTED, State.COMPLETED, State.NEEDS_ATTENTION)


class NetworkOutcome(models.TextChoices):
    """What the network said of the OCT; `unknown` until it has said paid or not paid."""

    NONE = "", "not sent"
    UNKNOWN = "unknown"
    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"


class Transfer(ConcurrentTransitionMixin, models.Model):
    TRANSITION_LOG_MACHINE = "transfer"  # every move lands in core.TransitionLog

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer_id = models.CharField(max_length=64)
    quote = models.OneToOneField(Quote, on_delete=models.PROTECT, related_name="transfer")
    payee = models.ForeignKey(Payee, on_delete=models.PROTECT, related_name="transfers")
    amount = models.PositiveBigIntegerField()
    fee = models.PositiveBigIntegerField()
    total = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3, default="KES")
    delivery = models.CharField(max_length=32, choices=Delivery.choices)
    kyc_tier = models.CharField(max_length=8, blank=True, default="")
    # The sender as the OCT names them (the customer's name from their token, else "M-PESA
    # CUSTOMER"); the customer id is the OCT's sender reference.
    sender_name = models.CharField(max_length=60, blank=True, default="")

    state = FSMField(default=State.RECEIVED, choices=State.choices, protected=True)
    failure_code = models.CharField(max_length=64, blank=True, default="")
    failure_message = models.CharField(max_length=255, blank=True, default="")

    screening_id = models.CharField(max_length=64, blank=True, default="")
    screening_result = models.CharField(max_length=16, blank=True, default="")
    reviewed_by = models.CharField(max_length=150, blank=True, default="")
    review_reason = models.CharField(max_length=255, blank=True, default="")

    # The ledger hold (idempotency keys `<id>:hold`, `<id>:capture`, `<id>:release`).
    hold_id = models.CharField(max_length=64, blank=True, default="")
    hold_requested_at = models.DateTimeField(null=True, blank=True)
    hold_settled = models.CharField(max_length=16, blank=True, default="")  # captured|released

    # The OCT (its clientReferenceInformation.code is this transfer's id).
    payout_sent_at = models.DateTimeField(null=True, blank=True)
    payout_id = models.CharField(max_length=32, blank=True, default="")
    network_outcome = models.CharField(max_length=16, choices=NetworkOutcome.choices,
                                       blank=True, default=NetworkOutcome.NONE)
    network_response_code = models.CharField(max_length=8, blank=True, default="")
    approval_code = models.CharField(max_length=8, blank=True, default="")

    # Outside attempts in the current state (the retry budget lives on the row, so a
    # redelivered message cannot loop), status inquiries of an unknown outcome, re-drives.
    attempts = models.PositiveIntegerField(default=0)
    inquiries = models.PositiveIntegerField(default=0)
    redrives = models.PositiveIntegerField(default=0)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    state_changed_at = models.DateTimeField(default=timezone.now)
    # When beat should look at this transfer next if it has not moved (null when terminal
    # or waiting for a person), so the sweep's partial index holds only what can get stuck.
    due_at = models.DateTimeField(null=True, blank=True)
    correlation_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["due_at", "state"], name="transfer_due_idx",
                         condition=Q(due_at__isnull=False)),
            models.Index(fields=["customer_id", "-created_at"], name="transfer_customer_idx"),
            models.Index(fields=["state", "state_changed_at"], name="transfer_state_age_idx"),
        ]
        constraints = [models.CheckConstraint(
            condition=Q(total=models.F("amount") + models.F("fee")),
            name="transfer_total_is_amount_plus_fee")]
        permissions = [
            ("review_transfer", "Can approve or reject a transfer in review"),
            ("resolve_transfer", "Can settle a transfer that needs attention from the network's answer"),
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.state})"

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    # --- transitions -------------------------------------------------------------------
    # Every transition takes `by` (a core Trigger), optional `actor` and `reason`.

    def _entered(self, target: str) -> None:
        now = timezone.now()
        self.state_changed_at = now
        self.attempts = 0
        stuck_after = settings.TRANSFER_STUCK_AFTER.get(target)
        self.due_at = now + stuck_after if stuck_after else None

    def _failed(self, code: str, message: str) -> None:
        self.failure_code = code
        self.failure_message = message

    @transition(field=state, source=[State.RECEIVED, State.IN_REVIEW], target=State.CHECKED)
    def mark_checked(self, *, by, reason="checks_passed", actor=None):
        self._entered(State.CHECKED)
        if actor is not None:
            self.reviewed_by = actor.get_username()
            self.review_reason = reason

    @transition(field=state, source=State.RECEIVED, target=State.IN_REVIEW)
    def send_to_review(self, *, by, reason="screening_review", actor=None):
        self._entered(State.IN_REVIEW)

    @transition(field=state, source=[State.RECEIVED, State.IN_REVIEW, State.CHECKED],
                target=State.REJECTED)
    def reject(self, *, by, reason, actor=None, message="", code=""):
        # `reason` is what the log shows (an operator's why); `code` the failure code when
        # it differs (a review rejection logs the operator's words, fails `review_rejected`).
        self._entered(State.REJECTED)
        self._failed(code or reason, message or "The transfer could not be made.")
        if actor is not None:
            self.reviewed_by = actor.get_username()
            self.review_reason = reason

    @transition(field=state, source=[State.RECEIVED, State.CHECKED], target=State.CANCELLED)
    def cancel(self, *, by, reason="cancelled_by_customer", actor=None):
        self._entered(State.CANCELLED)
        self._failed(reason, "The transfer was cancelled.")

    @transition(field=state, source=State.CHECKED, target=State.FUNDS_HELD)
    def mark_funds_held(self, *, by, reason="hold_placed", actor=None, hold_id=""):
        self._entered(State.FUNDS_HELD)
        self.hold_id = hold_id

    @transition(field=state, source=State.FUNDS_HELD, target=State.SUBMITTED)
    def mark_submitted(self, *, by, reason="oct_sent", actor=None):
        self._entered(State.SUBMITTED)

    @transition(field=state, source=[State.SUBMITTED, State.NEEDS_ATTENTION],
                target=State.COMPLETED, permission="transfers.resolve_transfer")
    def complete(self, *, by, reason="network_approved", actor=None):
        self._entered(State.COMPLETED)
        self.hold_settled = "captured"

    @transition(field=state, source=[State.FUNDS_HELD, State.SUBMITTED, State.NEEDS_ATTENTION],
                target=State.DECLINED, permission="transfers.resolve_transfer")
    def decline(self, *, by, reason="network_declined", actor=None, message=""):
        self._entered(State.DECLINED)
        self.hold_settled = "released"
        self._failed(reason, message or "The card could not be paid; the money was returned.")

    @transition(field=state, source=State.SUBMITTED, target=State.NEEDS_ATTENTION)
    def need_attention(self, *, by, reason="outcome_unknown", actor=None):
        self._entered(State.NEEDS_ATTENTION)


class TransferRuleResult(models.Model):
    """One decisioning rule's verdict on one transfer, shadow ones included, with the
    inputs that mattered (counts, never card data)."""

    transfer = models.ForeignKey(Transfer, on_delete=models.CASCADE, related_name="rule_results")
    rule_key = models.CharField(max_length=64)
    rule_kind = models.CharField(max_length=32)
    rule_version = models.PositiveIntegerField()
    mode = models.CharField(max_length=8)
    outcome = models.CharField(max_length=8)
    reason_code = models.CharField(max_length=64, blank=True, default="")
    inputs = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["transfer", "rule_key"]
        indexes = [models.Index(fields=["rule_key", "created_at"],
                                name="transfer_ruleresult_idx")]

    @property
    def enforced(self) -> bool:
        return self.mode == "enforce"


class IdempotencyKey(models.Model):
    """Stripe-style idempotency for POST /transfers, per customer."""

    class Status(models.TextChoices):
        IN_FLIGHT = "in_flight"
        COMPLETED = "completed"

    customer_id = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.IN_FLIGHT)
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    transfer = models.ForeignKey(Transfer, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer_id", "key"],
                                               name="transfer_idem_customer_key_uniq")]
        indexes = [models.Index(fields=["created_at"], name="transfer_idem_created_idx")]


# Reconciliation's records live in a module of their own; imported here so they are
# this app's models.
from .reconciliation_models import (  # noqa: E402, F401
    MismatchKind,
    ReconciliationMismatch,
    ReconciliationRun,
)
