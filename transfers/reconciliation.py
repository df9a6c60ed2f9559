"""Reconciliation of a report day (UTC): our completed and declined transfers against the
payout network's settlement report, and every transfer that ended that day against the
M-Pesa ledger. Each disagreement is a ReconciliationMismatch row (once per day, kind and
reference); a report line we cannot tie to a transfer is flagged and kept in full.

What is compared:

- each report line: its `client_reference_code` must be one of our transfers (else
  `unknown_report_line`), once (`duplicate_report_line`), readable
  (`malformed_report_line`); a paid line must be a completed transfer
  (`status_mismatch`) of the same amount and currency (`amount_mismatch`); a completed
  transfer's line must say paid. Lines of transfers still under way are left for a later
  run.
- each transfer whose OCT was sent that day and that completed: a line in the report
  (`missing_from_report`).
- each transfer that ended that day (completed, declined, or rejected once a hold may
  have been placed): the ledger's holds under its reference. Completed: exactly one
  hold captured, for amount + fee. Declined or rejected: none captured. Either way none
  left held (`ledger_mismatch`).

A run reads everything first and writes in one transaction after: a download or ledger
failure fails the run (its row says why) and changes no mismatch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.models import Trigger
from core.outside.http import OutsideError

from .models import (
    MismatchKind,
    ReconciliationMismatch,
    ReconciliationRun,
    State,
    Transfer,
)

logger = logging.getLogger(__name__)

ENDED_STATES = (State.COMPLETED, State.DECLINED, State.REJECTED)
UNDER_WAY_STATES = (State.FUNDS_HELD, State.SUBMITTED, State.NEEDS_ATTENTION)
NOT_PAID_STATES = (State.DECLINED, State.REJECTED, State.CANCELLED)


@dataclass
class Finding:
    kind: str
    reference: str
    detail: str
    transfer: Transfer | None = None
    report_line: dict = field(default_factory=dict)
    ours: dict = field(default_factory=dict)


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=timezone.get_fixed_timezone(0))
    return start, start + timedelta(days=1)


def _ours(transfer: Transfer, **also) -> dict:
    return {"state": transfer.state, "amount": transfer.amount, "fee": transfer.fee,
            "currency": transfer.currency, **also}


def _line_reference(line) -> str:
    if line.request_id:
        return f"request:{line.request_id}"[:80]
    canonical = json.dumps(line.fields, sort_keys=True, separators=(",", ":"))
    return "line:" + hashlib.sha256(canonical.encode()).hexdigest()


def _transfer_for_code(code: str, known: dict[str, Transfer]) -> Transfer | None:
    if code in known:
        return known[code]
    try:
        uuid.UUID(code)
    except ValueError:
        return None
    transfer = Transfer.objects.filter(pk=code).first()
    if transfer is not None:
        known[code] = transfer
    return transfer


# --- comparing -------------------------------------------------------------------------

def compare_report(report, sent_that_day: list[Transfer]) -> list[Finding]:
    """Findings of the report against our transfers (no outside call)."""
    findings: list[Finding] = []
    known = {str(t.pk): t for t in sent_that_day}
    seen: set[str] = set()
    for line in report.lines:
        stored = line.stored()
        transfer = _transfer_for_code(line.code, known) if line.code else None
        if line.problem and transfer is None:
            findings.append(Finding(MismatchKind.MALFORMED_REPORT_LINE, _line_reference(line),
                                    f"line {line.number}: {line.problem}"[:255],
                                    report_line=stored))
            continue
        if transfer is None:
            findings.append(Finding(MismatchKind.UNKNOWN_REPORT_LINE, _line_reference(line),
                                    f"line {line.number}: no transfer {line.code[:64]}",
                                    report_line=stored))
            continue
        reference = str(transfer.pk)
        if reference in seen:
            findings.append(Finding(MismatchKind.DUPLICATE_REPORT_LINE, reference,
                                    f"line {line.number}: a second line for this transfer",
                                    transfer, stored, _ours(transfer)))
            continue
        seen.add(reference)
        if line.problem:
            findings.append(Finding(MismatchKind.MALFORMED_REPORT_LINE, reference,
                                    f"line {line.number}: {line.problem}"[:255],
                                    transfer, stored, _ours(transfer)))
            continue
        if line.paid and transfer.state in NOT_PAID_STATES:
            findings.append(Finding(MismatchKind.STATUS_MISMATCH, reference,
                                    f"the report says paid ({line.status}); the transfer is "
                                    f"{transfer.state}", transfer, stored, _ours(transfer)))
        elif not line.paid and transfer.state == State.COMPLETED:
            findings.append(Finding(MismatchKind.STATUS_MISMATCH, reference,
                                    f"the transfer completed; the report says "
                                    f"{line.status[:32] or 'nothing'}", transfer, stored,
                                    _ours(transfer)))
        elif line.paid and transfer.state == State.COMPLETED and (
                line.amount != transfer.amount or line.currency != transfer.currency):
            findings.append(Finding(MismatchKind.AMOUNT_MISMATCH, reference,
                                    f"the report says {line.amount} {line.currency[:3]}, the "
                                    f"transfer {transfer.amount} {transfer.currency}",
                                    transfer, stored, _ours(transfer)))
    for transfer in sent_that_day:
        if transfer.state == State.COMPLETED and str(transfer.pk) not in seen:
            findings.append(Finding(MismatchKind.MISSING_FROM_REPORT, str(transfer.pk),
                                    "completed, but not in the day's settlement report",
                                    transfer, {}, _ours(transfer)))
    return findings


def compare_ledger(transfer: Transfer, holds) -> Finding | None:
    """The ledger's holds under this transfer against its outcome (None: they agree)."""
    by_status: dict[str, list] = {}
    for hold in holds:
        by_status.setdefault(hold.status, []).append(hold)
    captured, held = by_status.get("captured", []), by_status.get("held", [])
    problem = ""
    if held:
        problem = f"{len(held)} hold(s) still held"
    elif transfer.state == State.COMPLETED:
        if len(captured) != 1:
            problem = f"completed, but {len(captured)} holds captured"
        elif captured[0].total != transfer.total:
            problem = f"captured {captured[0].total}, amount + fee is {transfer.total}"
    elif captured:
        problem = f"{transfer.state}, but {len(captured)} hold(s) captured"
    if not problem:
        return None
    seen = [{"hold_id": h.hold_id, "status": h.status, "total": h.total} for h in holds]
    return Finding(MismatchKind.LEDGER_MISMATCH, str(transfer.pk), problem, transfer, {},
                   _ours(transfer, total=transfer.total, holds=seen))


# --- one day ---------------------------------------------------------------------------

def transfers_sent(day: date) -> list[Transfer]:
    start, end = _day_bounds(day)
    return list(Transfer.objects.filter(payout_sent_at__gte=start, payout_sent_at__lt=end)
                .exclude(state__in=UNDER_WAY_STATES))


def transfers_ended(day: date) -> list[Transfer]:
    start, end = _day_bounds(day)
    ended = Transfer.objects.filter(state__in=ENDED_STATES, state_changed_at__gte=start,
                                    state_changed_at__lt=end)
    # A rejection that never asked for a hold never touched the ledger.
    return [t for t in ended if t.state != State.REJECTED or t.hold_requested_at is not None]


def _settled_next_day(findings: list[Finding], day: date, reports) -> list[Finding]:
    """A payout sent late in the day may settle after midnight (UTC) and sit in the next
    day's report: once that report exists, a transfer paid in it is not missing."""
    missing = {f.reference for f in findings if f.kind == MismatchKind.MISSING_FROM_REPORT}
    next_day = day + timedelta(days=1)
    if not missing or next_day >= timezone.now().date():
        return findings
    paid_next_day = {line.code for line in reports.download(next_day).lines
                     if line.paid and line.code in missing}
    return [f for f in findings if not (f.kind == MismatchKind.MISSING_FROM_REPORT
                                        and f.reference in paid_next_day)]


def reconcile_day(day: date, *, trigger: str = Trigger.BEAT) -> ReconciliationRun:
    """Reconcile one report day; safe to run again (and at once): a mismatch found again
    is the same row, one no longer found is cleared."""
    from .ledger import LedgerClient
    from .settlement import SettlementReportClient

    run = ReconciliationRun.objects.create(report_date=day, trigger=trigger)
    try:
        reports = SettlementReportClient()
        report = reports.download(day)
        sent = transfers_sent(day)
        findings = _settled_next_day(compare_report(report, sent), day, reports)
        ended = transfers_ended(day)
        ledger = LedgerClient()
        for transfer in ended:
            finding = compare_ledger(transfer, ledger.holds_for(str(transfer.pk)))
            if finding is not None:
                findings.append(finding)
    except OutsideError as exc:
        return _failed(run, exc.code, exc.message)
    try:
        new, cleared = _record(run, findings, by=trigger)
    except Exception:
        # A bug, or the database: the run must not stay `running`; the task's failure
        # (with its traceback) is what alerts.
        _failed(run, "internal_error", "the mismatches could not be recorded")
        raise
    ReconciliationRun.objects.filter(pk=run.pk).update(
        status=ReconciliationRun.Status.SUCCEEDED, report_lines=len(report.lines),
        transfers_checked=len({t.pk for t in sent} | {t.pk for t in ended}),
        mismatches_found=len(findings), mismatches_new=new, mismatches_cleared=cleared,
        finished_at=timezone.now())
    run.refresh_from_db()
    log = logger.warning if findings else logger.info
    log("reconciled a report day", extra={
        "report_date": str(day), "report_lines": run.report_lines,
        "transfers_checked": run.transfers_checked, "mismatches_found": len(findings),
        "mismatches_new": new, "mismatches_cleared": cleared})
    return run


def _failed(run: ReconciliationRun, code: str, message: str) -> ReconciliationRun:
    ReconciliationRun.objects.filter(pk=run.pk).update(
        status=ReconciliationRun.Status.FAILED, error_code=code[:64], error_message=message[:255],
        finished_at=timezone.now())
    logger.warning("reconciliation failed", extra={"report_date": str(run.report_date),
                                                   "error_code": code})
    run.refresh_from_db()
    return run


def _record(run: ReconciliationRun, findings: list[Finding], *, by: str) -> tuple[int, int]:
    from .reconciliation_metrics import count_new_mismatch

    new = cleared = 0
    found_keys = set()
    with transaction.atomic():
        for finding in findings:
            found_keys.add((finding.kind, finding.reference))
            mismatch, created = ReconciliationMismatch.objects.select_for_update().get_or_create(
                report_date=run.report_date, kind=finding.kind, reference=finding.reference,
                defaults={"transfer": finding.transfer, "detail": finding.detail[:255],
                          "report_line": finding.report_line, "ours": finding.ours,
                          "first_run": run, "last_run": run})
            if created:
                new += 1
                count_new_mismatch(finding.kind)
                continue
            mismatch.detail = finding.detail[:255]
            mismatch.report_line = finding.report_line
            mismatch.ours = finding.ours
            mismatch.last_run = run
            mismatch.times_found += 1
            if mismatch.state == ReconciliationMismatch.State.CLEARED:
                mismatch.reopen(by=by)
            mismatch.save()
        stale = (ReconciliationMismatch.objects.select_for_update()
                 .filter(report_date=run.report_date, state=ReconciliationMismatch.State.OPEN))
        for mismatch in stale:
            if (mismatch.kind, mismatch.reference) not in found_keys:
                mismatch.clear(by=by)
                mismatch.save()
                cleared += 1
    return new, cleared


# --- beat and operations ---------------------------------------------------------------

def days_to_reconcile(today: date | None = None) -> list[date]:
    """Yesterday (UTC) first, then the days before it still re-checked: a line can reach
    a report late, and a transfer can end days after its OCT was sent."""
    today = today or timezone.now().date()
    return [today - timedelta(days=back)
            for back in range(1, settings.TRANSFER_RECONCILE_RECHECK_DAYS + 2)]


def reconcile_recent_days(today: date | None = None) -> dict[str, str]:
    return {str(day): reconcile_day(day).status for day in days_to_reconcile(today)}


def resolve_mismatch(mismatch_id, *, actor, note: str) -> ReconciliationMismatch:
    """Operations mark a mismatch handled; who and why land on the row and in the log."""
    from core.errors import ApplicationError

    note = (note or "").strip()
    if not note:
        raise ApplicationError("Say what was done about it.", code="note_required")
    with transaction.atomic():
        mismatch = ReconciliationMismatch.objects.select_for_update().get(pk=mismatch_id)
        if mismatch.state != ReconciliationMismatch.State.OPEN:
            raise ApplicationError(f"This mismatch is {mismatch.state}, not open.",
                                   code="mismatch_not_open", status_code=409)
        mismatch.resolve(by=Trigger.ADMIN, actor=actor, reason=note)
        mismatch.save()
    logger.info("reconciliation mismatch resolved",
                extra={"mismatch_id": str(mismatch.pk), "actor": actor.get_username()})
    return mismatch
