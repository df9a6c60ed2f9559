"""Reconciliation's records: one row per run of a report day, one per mismatch found
between the network's settlement report, the M-Pesa ledger and our transfers
(transfers/reconciliation.py). Imported by models.py, so Django sees them as the
transfers app's models."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin, FSMField, transition


class ReconciliationRun(models.Model):
    """One reconciliation of a report day (UTC): beat's, or one run by hand. A day is run
    again while it is recent; each run is a row of its own."""

    class Status(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"  # the report or the ledger could not be read: nothing compared

    report_date = models.DateField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    trigger = models.CharField(max_length=16, default="beat")  # a core Trigger
    report_lines = models.PositiveIntegerField(default=0)
    transfers_checked = models.PositiveIntegerField(default=0)
    mismatches_found = models.PositiveIntegerField(default=0)  # all this run found
    mismatches_new = models.PositiveIntegerField(default=0)  # of them, not known before
    mismatches_cleared = models.PositiveIntegerField(default=0)  # open ones no longer found
    error_code = models.CharField(max_length=64, blank=True, default="")
    error_message = models.CharField(max_length=255, blank=True, default="")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["report_date", "-started_at"], name="recon_run_date_idx")]

    def __str__(self) -> str:
        return f"reconciliation of {self.report_date} ({self.status})"


class MismatchKind(models.TextChoices):
    UNKNOWN_REPORT_LINE = "unknown_report_line"  # a payout we never sent (or do not know)
    MALFORMED_REPORT_LINE = "malformed_report_line"  # a line that could not be read
    DUPLICATE_REPORT_LINE = "duplicate_report_line"  # a second line for one transfer
    MISSING_FROM_REPORT = "missing_from_report"  # completed, not in the report
    AMOUNT_MISMATCH = "amount_mismatch"  # the report's amount or currency differs
    STATUS_MISMATCH = "status_mismatch"  # paid in the report, not by us (or the reverse)
    LEDGER_MISMATCH = "ledger_mismatch"  # the M-Pesa hold does not match the outcome


class ReconciliationMismatch(ConcurrentTransitionMixin, models.Model):
    """One disagreement between our transfers and the report or the ledger, for a report
    day. Found again by a later run, it is the same row (kind and reference are unique per
    day); no longer found, beat clears it; operations resolve it with a note."""

    TRANSITION_LOG_MACHINE = "reconciliation_mismatch"

    class State(models.TextChoices):
        OPEN = "open"
        RESOLVED = "resolved"  # operations handled it (who and why on the row and the log)
        CLEARED = "cleared"  # a later run no longer found it (a late settlement line)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    report_date = models.DateField()
    kind = models.CharField(max_length=32, choices=MismatchKind.choices)
    # The transfer id, or for a line we cannot tie to a transfer the network's request id
    # (`request:<id>`) or the line's digest (`line:<sha256>`).
    reference = models.CharField(max_length=80)
    transfer = models.ForeignKey("transfers.Transfer", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="reconciliation_mismatches")
    detail = models.CharField(max_length=255)
    # The report's line in full (every column, card numbers masked), {} when none.
    report_line = models.JSONField(default=dict, blank=True)
    # What we hold: {"state", "amount", "currency", "holds": [...]} as compared.
    ours = models.JSONField(default=dict, blank=True)
    state = FSMField(default=State.OPEN, choices=State.choices, protected=True)
    first_run = models.ForeignKey(ReconciliationRun, on_delete=models.PROTECT, related_name="+")
    last_run = models.ForeignKey(ReconciliationRun, on_delete=models.PROTECT, related_name="+")
    times_found = models.PositiveIntegerField(default=1)
    resolved_by = models.CharField(max_length=150, blank=True, default="")
    resolution_note = models.CharField(max_length=255, blank=True, default="")
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-report_date", "kind", "reference"]
        constraints = [models.UniqueConstraint(fields=["report_date", "kind", "reference"],
                                               name="recon_mismatch_once_per_day")]
        indexes = [models.Index(fields=["kind"], name="recon_mismatch_open_idx",
                                condition=Q(state="open"))]
        permissions = [("resolve_reconciliationmismatch",
                        "Can mark a reconciliation mismatch resolved, with a note")]

    def __str__(self) -> str:
        return f"{self.kind} {self.reference} ({self.report_date})"

    @transition(field=state, source=State.OPEN, target=State.RESOLVED,
                permission="transfers.resolve_reconciliationmismatch")
    def resolve(self, *, by, reason, actor=None):
        self.resolved_by = actor.get_username() if actor is not None else ""
        self.resolution_note = reason[:255]
        self.resolved_at = timezone.now()

    @transition(field=state, source=State.OPEN, target=State.CLEARED)
    def clear(self, *, by, reason="not_found_again", actor=None):
        self.resolved_at = timezone.now()

    @transition(field=state, source=State.CLEARED, target=State.OPEN)
    def reopen(self, *, by, reason="found_again", actor=None):
        self.resolved_at = None
