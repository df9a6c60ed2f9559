"""Beat re-drives a transfer whose outcome is unknown only when its scheduled inquiry is
overdue: while one is waiting out its countdown, a sweep adds none (each inquiry counts
against the budget, so a duplicate spends it twice as fast)."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from transfers import steps, sweeps
from transfers.models import NetworkOutcome, State, Transfer

from .factories import TransferFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def slow_inquiry(settings):
    settings.TRANSFER_INQUIRY_DELAY_SECONDS = 30
    settings.TRANSFER_STUCK_AFTER = {**settings.TRANSFER_STUCK_AFTER,
                                     "submitted": timedelta(seconds=5)}


def sweep_at(monkeypatch, moment):
    monkeypatch.setattr(sweeps, "timezone", SimpleNamespace(now=lambda: moment))
    return sweeps.redrive_due_transfers()


def test_beat_adds_no_inquiry_while_a_scheduled_one_is_not_yet_due(
        slow_inquiry, no_tasks, monkeypatch, django_capture_on_commit_callbacks):
    transfer = TransferFactory(state=State.FUNDS_HELD, hold_id="hold_1",
                               payout_sent_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        steps.record_unknown_outcome(transfer.pk, "payouts_timeout")
    assert no_tasks == [("inquire_payout_task", str(transfer.pk))]

    with django_capture_on_commit_callbacks(execute=True):
        counts = sweep_at(monkeypatch, timezone.now() + timedelta(seconds=10))

    assert counts == {"redriven": 0, "given_up": 0}
    assert no_tasks == [("inquire_payout_task", str(transfer.pk))]


def test_beat_still_redrives_an_inquiry_that_never_ran(
        slow_inquiry, no_tasks, monkeypatch, django_capture_on_commit_callbacks):
    transfer = TransferFactory(state=State.FUNDS_HELD, hold_id="hold_1",
                               payout_sent_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        steps.record_unknown_outcome(transfer.pk, "payouts_timeout")

    with django_capture_on_commit_callbacks(execute=True):
        counts = sweep_at(monkeypatch, timezone.now() + timedelta(seconds=40))

    assert counts == {"redriven": 1, "given_up": 0}
    assert no_tasks[-1] == ("inquire_payout_task", str(transfer.pk))
    assert Transfer.objects.get(pk=transfer.pk).network_outcome == NetworkOutcome.UNKNOWN
