"""Reconciliation of a report day: every kind of mismatch is found once, a re-run adds
none, one no longer found is cleared, a failed download changes nothing, operations
resolve with who and why; beat's job is declared on the reconciliation queue. The report
and the ledger are stubbed at their clients."""

from datetime import date, datetime, time, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from core import schedules
from core.models import TransitionLog
from core.outside.http import OutsideTimeout
from sandbox.settlement import render_csv
from transfers import reconciliation, settlement, tasks
from transfers.models import (
    MismatchKind,
    ReconciliationMismatch,
    ReconciliationRun,
    State,
)
from transfers.payouts import render_amount
from transfers.reconciliation_metrics import read_gauges

from .factories import TransferFactory

pytestmark = pytest.mark.django_db

DAY = timezone.now().date() - timedelta(days=1)
NOON = datetime.combine(DAY, time(12), tzinfo=dt_timezone.utc)


class Report:
    """The network's report for DAY, as lines a test edits (stubbed at the client)."""

    def __init__(self):
        self.lines: list[dict] = []
        self.error: Exception | None = None
        self.downloads: list[date] = []

    def paid(self, transfer, **change):
        line = {"request_id": f"70000000000000000{len(self.lines):05d}",
                "client_reference_code": str(transfer.pk), "reconciliation_id": "",
                "amount": render_amount(transfer.amount), "currency": "KES",
                "status": "ACCEPTED", "submit_time_utc": f"{DAY}T12:00:00Z"}
        self.lines.append({**line, **change})

    def client(self):
        report = self

        class Client:
            def download(self, day):
                report.downloads.append(day)
                if report.error:
                    raise report.error
                lines = report.lines if day == DAY else []
                title = f"Payout Settlement Detail Report,1.0,{day} to {day},m"
                return settlement.parse_report(render_csv(title, lines).encode(), day)

        return Client


@pytest.fixture
def report(monkeypatch):
    fake = Report()
    monkeypatch.setattr(settlement, "SettlementReportClient", fake.client())
    return fake


def _hold(fake_ledger, transfer, status, total=None):
    hold_id = f"hold_{transfer.pk.hex[:8]}_{len(fake_ledger.holds)}"
    fake_ledger.holds[hold_id] = {"id": hold_id, "status": status,
                                  "total": transfer.total if total is None else total,
                                  "reference": str(transfer.pk), "customer": "cust_test"}


def _completed(fake_ledger, report=None, **kwargs):
    transfer = TransferFactory(state=State.COMPLETED, payout_sent_at=NOON,
                               state_changed_at=NOON, hold_settled="captured", due_at=None,
                               **kwargs)
    _hold(fake_ledger, transfer, "captured")
    if report is not None:
        report.paid(transfer)
    return transfer


def _declined(fake_ledger):
    transfer = TransferFactory(state=State.DECLINED, payout_sent_at=NOON, state_changed_at=NOON,
                               hold_settled="released", due_at=None)
    _hold(fake_ledger, transfer, "released")
    return transfer


def _kinds():
    return sorted((m.kind, m.reference) for m in ReconciliationMismatch.objects.all())


def test_a_day_that_agrees_finds_no_mismatch(report, fake_ledger):
    _completed(fake_ledger, report)
    _declined(fake_ledger)
    run = reconciliation.reconcile_day(DAY)
    assert (run.status, run.report_lines, run.transfers_checked, run.mismatches_found) == (
        ReconciliationRun.Status.SUCCEEDED, 1, 2, 0)
    assert ReconciliationMismatch.objects.count() == 0


def test_a_line_we_do_not_know_is_flagged_and_kept_in_full(report, fake_ledger):
    report.lines.append({"request_id": "7999", "client_reference_code": "not-ours",
                         "reconciliation_id": "", "amount": "10.00", "currency": "KES",
                         "status": "ACCEPTED", "submit_time_utc": f"{DAY}T01:00:00Z"})
    reconciliation.reconcile_day(DAY)
    mismatch = ReconciliationMismatch.objects.get()
    assert (mismatch.kind, mismatch.reference, mismatch.transfer) == (
        MismatchKind.UNKNOWN_REPORT_LINE, "request:7999", None)
    assert mismatch.report_line["fields"] == report.lines[0]
    assert mismatch.report_line["line"] == 3


def test_a_completed_transfer_missing_from_the_report_is_flagged(report, fake_ledger):
    transfer = _completed(fake_ledger)
    reconciliation.reconcile_day(DAY)
    assert _kinds() == [(MismatchKind.MISSING_FROM_REPORT, str(transfer.pk))]


def test_another_amount_in_the_report_is_an_amount_mismatch(report, fake_ledger):
    transfer = _completed(fake_ledger)
    report.paid(transfer, amount=render_amount(transfer.amount + 100))
    reconciliation.reconcile_day(DAY)
    mismatch = ReconciliationMismatch.objects.get()
    assert (mismatch.kind, mismatch.transfer_id) == (MismatchKind.AMOUNT_MISMATCH, transfer.pk)
    assert mismatch.ours["amount"] == transfer.amount


def test_another_currency_in_the_report_is_an_amount_mismatch(report, fake_ledger):
    transfer = _completed(fake_ledger)
    report.paid(transfer, currency="USD")
    reconciliation.reconcile_day(DAY)
    assert _kinds() == [(MismatchKind.AMOUNT_MISMATCH, str(transfer.pk))]


def test_a_declined_transfer_paid_in_the_report_is_a_status_mismatch(report, fake_ledger):
    transfer = _declined(fake_ledger)
    report.paid(transfer)
    reconciliation.reconcile_day(DAY)
    assert _kinds() == [(MismatchKind.STATUS_MISMATCH, str(transfer.pk))]


def test_a_completed_transfer_the_report_says_declined_is_a_status_mismatch(report, fake_ledger):
    transfer = _completed(fake_ledger)
    report.paid(transfer, status="DECLINED")
    reconciliation.reconcile_day(DAY)
    assert _kinds() == [(MismatchKind.STATUS_MISMATCH, str(transfer.pk))]


def test_two_lines_for_one_transfer_are_a_duplicate(report, fake_ledger):
    transfer = _completed(fake_ledger, report)
    report.paid(transfer)
    reconciliation.reconcile_day(DAY)
    assert _kinds() == [(MismatchKind.DUPLICATE_REPORT_LINE, str(transfer.pk))]


def test_a_line_that_cannot_be_read_is_flagged(report, fake_ledger):
    transfer = _completed(fake_ledger)
    report.paid(transfer, amount="1500")
    reconciliation.reconcile_day(DAY)
    mismatch = ReconciliationMismatch.objects.get()
    assert mismatch.kind == MismatchKind.MALFORMED_REPORT_LINE
    assert "amount is not a decimal" in mismatch.detail


def test_a_line_under_way_is_left_for_a_later_run(report, fake_ledger):
    transfer = TransferFactory(state=State.SUBMITTED, payout_sent_at=NOON)
    report.paid(transfer)
    run = reconciliation.reconcile_day(DAY)
    assert run.mismatches_found == 0


@pytest.mark.parametrize("holds, problem", [
    ([], "0 holds captured"),
    (["captured", "captured"], "2 holds captured"),
    (["captured", "held"], "still held"),
])
def test_a_completed_transfer_needs_exactly_one_capture_and_nothing_held(
        report, fake_ledger, holds, problem):
    transfer = TransferFactory(state=State.COMPLETED, payout_sent_at=NOON,
                               state_changed_at=NOON, due_at=None)
    report.paid(transfer)
    for status in holds:
        _hold(fake_ledger, transfer, status)
    reconciliation.reconcile_day(DAY)
    mismatch = ReconciliationMismatch.objects.get()
    assert (mismatch.kind, mismatch.reference) == (MismatchKind.LEDGER_MISMATCH, str(transfer.pk))
    assert problem in mismatch.detail
    assert [h["status"] for h in mismatch.ours["holds"]] == holds


def test_a_capture_of_another_total_is_a_ledger_mismatch(report, fake_ledger):
    transfer = TransferFactory(state=State.COMPLETED, payout_sent_at=NOON,
                               state_changed_at=NOON, due_at=None)
    report.paid(transfer)
    _hold(fake_ledger, transfer, "captured", total=transfer.amount)  # the fee not taken
    reconciliation.reconcile_day(DAY)
    assert "amount + fee is" in ReconciliationMismatch.objects.get().detail


@pytest.mark.parametrize("state", [State.DECLINED, State.REJECTED])
def test_a_hold_captured_or_left_for_a_transfer_not_paid_is_a_ledger_mismatch(
        report, fake_ledger, state):
    captured = TransferFactory(state=state, state_changed_at=NOON, hold_requested_at=NOON,
                               due_at=None)
    _hold(fake_ledger, captured, "captured")
    left = TransferFactory(state=state, state_changed_at=NOON, hold_requested_at=NOON,
                           due_at=None)
    _hold(fake_ledger, left, "held")
    reconciliation.reconcile_day(DAY)
    assert _kinds() == sorted([(MismatchKind.LEDGER_MISMATCH, str(captured.pk)),
                               (MismatchKind.LEDGER_MISMATCH, str(left.pk))])


def test_a_rerun_finds_the_same_mismatches_and_adds_none(report, fake_ledger):
    _completed(fake_ledger)
    report.lines.append({"request_id": "7999", "client_reference_code": "x",
                         "reconciliation_id": "", "amount": "10.00", "currency": "KES",
                         "status": "ACCEPTED", "submit_time_utc": ""})
    first = reconciliation.reconcile_day(DAY)
    second = reconciliation.reconcile_day(DAY)
    assert (first.mismatches_new, second.mismatches_found, second.mismatches_new) == (2, 2, 0)
    assert ReconciliationMismatch.objects.count() == 2
    assert {m.times_found for m in ReconciliationMismatch.objects.all()} == {2}
    assert {m.first_run_id for m in ReconciliationMismatch.objects.all()} == {first.pk}


def test_a_mismatch_no_longer_found_is_cleared_and_reopens_if_found_again(report, fake_ledger):
    transfer = _completed(fake_ledger)
    reconciliation.reconcile_day(DAY)
    report.paid(transfer)  # the line arrived late
    run = reconciliation.reconcile_day(DAY)
    mismatch = ReconciliationMismatch.objects.get()
    assert (run.mismatches_cleared, mismatch.state) == (1, ReconciliationMismatch.State.CLEARED)
    report.lines.clear()
    reconciliation.reconcile_day(DAY)
    mismatch.refresh_from_db()
    assert mismatch.state == ReconciliationMismatch.State.OPEN
    assert [r.to_state for r in TransitionLog.objects.filter(object_id=mismatch.pk)
            .order_by("id")] == ["cleared", "open"]


def test_a_failed_download_fails_the_run_and_changes_no_mismatch(report, fake_ledger):
    _completed(fake_ledger)
    reconciliation.reconcile_day(DAY)
    report.error = OutsideTimeout("settlement_reports_timeout", system="settlement_reports")
    run = reconciliation.reconcile_day(DAY)
    assert (run.status, run.error_code) == (ReconciliationRun.Status.FAILED,
                                            "settlement_reports_timeout")
    assert ReconciliationMismatch.objects.get().state == ReconciliationMismatch.State.OPEN


def test_the_gauges_count_open_mismatches_by_kind_and_failing_days(report, fake_ledger):
    _completed(fake_ledger)
    reconciliation.reconcile_day(DAY)
    report.error = settlement.ReportMalformed("settlement_reports_malformed")
    reconciliation.reconcile_day(DAY - timedelta(days=1))
    open_family, failing = read_gauges()
    counts = {sample.labels["kind"]: sample.value for sample in open_family.samples}
    assert counts[MismatchKind.MISSING_FROM_REPORT] == 1
    assert counts[MismatchKind.UNKNOWN_REPORT_LINE] == 0
    assert failing.samples[0].value == 1


def test_operations_resolve_with_a_note_and_the_log_names_them(report, fake_ledger,
                                                              django_user_model):
    from core.errors import ApplicationError

    _completed(fake_ledger)
    reconciliation.reconcile_day(DAY)
    mismatch = ReconciliationMismatch.objects.get()
    user = django_user_model.objects.create_user("ops", password="pw")
    with pytest.raises(ApplicationError):
        reconciliation.resolve_mismatch(mismatch.pk, actor=user, note="  ")
    reconciliation.resolve_mismatch(mismatch.pk, actor=user, note="network confirmed late line")
    mismatch.refresh_from_db()
    assert (mismatch.state, mismatch.resolved_by, mismatch.resolution_note) == (
        "resolved", "ops", "network confirmed late line")
    row = TransitionLog.objects.get(object_id=mismatch.pk)
    assert (row.actor, row.reason, row.trigger) == ("ops", "network confirmed late line", "admin")
    reconciliation.reconcile_day(DAY)  # still there: the resolution stands
    mismatch.refresh_from_db()
    assert mismatch.state == "resolved" and mismatch.times_found == 2


def test_beat_reconciles_yesterday_and_the_recent_days(report, fake_ledger, settings):
    settings.TRANSFER_RECONCILE_RECHECK_DAYS = 2
    today = DAY + timedelta(days=1)
    result = tasks.reconcile_settlement_reports_task.apply(kwargs={"today": str(today)}).get()
    assert report.downloads == [DAY, DAY - timedelta(days=1), DAY - timedelta(days=2)]
    assert set(result.values()) == {"succeeded"}


def test_beat_job_is_declared_on_the_reconciliation_queue(settings):
    job = next(item for item in schedules.declared()
               if item["name"] == "reconcile settlement reports")
    assert job["task"] == "transfers.tasks.reconcile_settlement_reports_task"
    assert job["queue"] == "reconciliation"
    route = tasks.reconcile_settlement_reports_task.app.amqp.router.route(
        {}, job["task"], args=(), kwargs={})
    assert route["queue"].name == "reconciliation"


def test_the_command_runs_one_day_and_refuses_today(report, fake_ledger, capsys):
    _completed(fake_ledger, report)
    call_command("reconcile_settlement", "--date", str(DAY))
    assert f"{DAY}: succeeded; 1 report lines" in capsys.readouterr().out
    with pytest.raises(CommandError):
        call_command("reconcile_settlement", "--date", str(timezone.now().date()))
    with pytest.raises(CommandError):
        call_command("reconcile_settlement", "--date", "yesterday")
    report.error = OutsideTimeout("settlement_reports_timeout")
    with pytest.raises(CommandError, match="failed"):
        call_command("reconcile_settlement", "--date", str(DAY))


def test_a_run_that_cannot_record_is_failed_not_left_running(report, fake_ledger, monkeypatch):
    _completed(fake_ledger)

    def broken(*args, **kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(reconciliation, "_record", broken)
    with pytest.raises(RuntimeError):
        reconciliation.reconcile_day(DAY)
    run = ReconciliationRun.objects.get()
    assert (run.status, run.error_code) == (ReconciliationRun.Status.FAILED, "internal_error")


def test_a_payout_settled_after_midnight_is_found_in_the_next_days_report(
        monkeypatch, fake_ledger):
    """Sent at 23:59 two days ago, paid in yesterday's report: not missing from its day
    once that next report exists; missing still when it is in neither."""
    two_days_ago = DAY - timedelta(days=1)
    late = datetime.combine(two_days_ago, time(23, 59), tzinfo=dt_timezone.utc)
    settled_late = TransferFactory(state=State.COMPLETED, payout_sent_at=late,
                                   state_changed_at=late, hold_settled="captured", due_at=None)
    _hold(fake_ledger, settled_late, "captured")
    lost = TransferFactory(state=State.COMPLETED, payout_sent_at=late, state_changed_at=late,
                           hold_settled="captured", due_at=None)
    _hold(fake_ledger, lost, "captured")
    line = {"request_id": "7000000000000000000001",
            "client_reference_code": str(settled_late.pk), "reconciliation_id": "",
            "amount": render_amount(settled_late.amount), "currency": "KES",
            "status": "ACCEPTED", "submit_time_utc": f"{DAY}T00:00:10Z"}
    downloads = []

    class Client:
        def download(self, day):
            downloads.append(day)
            title = f"Payout Settlement Detail Report,1.0,{day} to {day},m"
            return settlement.parse_report(
                render_csv(title, [line] if day == DAY else []).encode(), day)

    monkeypatch.setattr(settlement, "SettlementReportClient", Client)
    reconciliation.reconcile_day(two_days_ago)
    assert downloads == [two_days_ago, DAY]
    assert _kinds() == [(MismatchKind.MISSING_FROM_REPORT, str(lost.pk))]
