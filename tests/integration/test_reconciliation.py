"""Reconciliation end to end: transfers sent through the API and the live worker, the
sandbox's settlement report edited through its controls (a line we never sent, an amount
changed, a line left out), beat's task run by the worker: each mismatch is found once,
with the sandbox's own ledger agreeing, and a second run adds none."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from devstack import luhn_pan, wait_until
from transfers import tasks
from transfers.models import MismatchKind, ReconciliationMismatch, ReconciliationRun, State

from .test_transfers import Visa

pytestmark = [pytest.mark.integration]


@pytest.fixture(autouse=True)
def _fee_schedule(stack):
    from tests.transfers.conftest import install_first_fee_schedule

    install_first_fee_schedule()


def _run_beat_task(today, runs_before: int) -> list[ReconciliationRun]:
    """Beat's task on the worker (queue `reconciliation`), `today` moved so that
    "yesterday" is the day the transfers were sent; waits for every day's run to end."""
    days = len(tasks.reconciliation.days_to_reconcile(today))
    tasks.reconcile_settlement_reports_task.apply_async(kwargs={"today": str(today)})

    def ended():
        runs = list(ReconciliationRun.objects.exclude(status=ReconciliationRun.Status.RUNNING))
        return runs if len(runs) >= runs_before + days else None

    return wait_until(ended, timeout=60, message="the reconciliation runs to end")


def test_each_report_and_ledger_mismatch_is_found_once_and_a_rerun_adds_none(stack):
    visa = Visa(stack)
    changed, dropped, untouched = (visa.send("0010") for _ in range(3))
    declined = visa.send("0002")
    for created, state in ((changed, State.COMPLETED), (dropped, State.COMPLETED),
                           (untouched, State.COMPLETED), (declined, State.DECLINED)):
        assert visa.wait(created["id"]).state == state
    day = timezone.now().date()
    response = stack.sandbox_post("/sandbox/settlement/changes", {
        "date": str(day), "client_reference_code": changed["id"], "amount": 99})
    assert response.status_code == 200, response.text
    response = stack.sandbox_post("/sandbox/settlement/changes", {
        "date": str(day), "client_reference_code": dropped["id"], "omit": True})
    assert response.status_code == 200, response.text
    stranger = str(uuid.uuid4())
    response = stack.sandbox_post("/sandbox/settlement/unknown-lines", {
        "date": str(day), "client_reference_code": stranger, "amount": 123_456})
    assert response.status_code == 201, response.text
    unknown_request_id = response.json()["request_id"]

    runs = _run_beat_task(day + timedelta(days=1), 0)
    assert {run.status for run in runs} == {ReconciliationRun.Status.SUCCEEDED}, \
        [(run.report_date, run.error_code, run.error_message) for run in runs]
    run = next(run for run in runs if run.report_date == day)
    assert (run.report_lines, run.transfers_checked, run.mismatches_new) == (3, 4, 3)
    found = sorted((m.kind, m.reference) for m in ReconciliationMismatch.objects.all())
    assert found == sorted([
        (MismatchKind.AMOUNT_MISMATCH, changed["id"]),
        (MismatchKind.MISSING_FROM_REPORT, dropped["id"]),
        (MismatchKind.UNKNOWN_REPORT_LINE, f"request:{unknown_request_id}"),
    ])
    unknown = ReconciliationMismatch.objects.get(kind=MismatchKind.UNKNOWN_REPORT_LINE)
    assert unknown.report_line["fields"]["client_reference_code"] == stranger
    assert unknown.report_line["fields"]["amount"] == "1234.56"
    assert visa.stats()["money_rule"]["ok"]  # the ledger agrees: no ledger mismatch
    stored = json.dumps(list(ReconciliationMismatch.objects.values("report_line", "ours",
                                                                   "detail")))
    assert luhn_pan("0010", prefix="400000") not in stored  # no card number was kept

    again = _run_beat_task(day + timedelta(days=1), len(runs))
    rerun = max((r for r in again if r.report_date == day), key=lambda r: r.started_at)
    assert (rerun.status, rerun.mismatches_found, rerun.mismatches_new) == (
        ReconciliationRun.Status.SUCCEEDED, 3, 0)
    assert ReconciliationMismatch.objects.count() == 3
    assert set(ReconciliationMismatch.objects.values_list("times_found", flat=True)) == {2}
