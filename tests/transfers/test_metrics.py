"""Transfers' metrics move: outcomes by state and failure-code family and the time to that
end (counted once the move commits), and the gauges /metrics reads from the database:
open transfers, money held, the inquiry backlog, overdue transfers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from core.models import Trigger
from transfers.metrics import code_family
from transfers.models import NetworkOutcome, State, Transfer

from .factories import QuoteFactory, TransferFactory

pytestmark = pytest.mark.django_db


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scrape(client) -> dict[tuple, float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.content.decode())
            for s in family.samples}


def _end(transfer, name, **kwargs):
    with transaction.atomic():
        getattr(transfer, name)(by=Trigger.WORKER, **kwargs)
        transfer.save()


def _transfer(state, total_amount=100_000, **fields):
    return TransferFactory(state=state, quote=QuoteFactory(amount=total_amount, used=True),
                           **fields)


@pytest.mark.parametrize("failure_code,family", [
    ("network_declined:05", "network_declined"), ("payout_refused:invalid_card", "payout_refused"),
    ("insufficient_funds", "insufficient_funds"), ("", ""),
])
def test_a_failure_codes_family_is_its_part_before_the_colon(failure_code, family):
    assert code_family(failure_code) == family


@pytest.mark.parametrize("source,name,kwargs,state,code", [
    (State.SUBMITTED, "complete", {}, "completed", ""),
    (State.SUBMITTED, "decline", {"reason": "network_declined:51"}, "declined",
     "network_declined"),
    (State.CHECKED, "reject", {"reason": "insufficient_funds"}, "rejected", "insufficient_funds"),
    (State.RECEIVED, "cancel", {}, "cancelled", "cancelled_by_customer"),
])
def test_an_end_is_counted_by_state_and_code_family_once_it_commits(
        django_capture_on_commit_callbacks, source, name, kwargs, state, code):
    before = sample("transfers_outcomes_total", state=state, code=code)
    timed_before = sample("transfers_completion_seconds_count", state=state)
    transfer = _transfer(source)
    with django_capture_on_commit_callbacks(execute=True):
        _end(transfer, name, **kwargs)
    assert sample("transfers_outcomes_total", state=state, code=code) == before + 1
    assert sample("transfers_completion_seconds_count", state=state) == timed_before + 1


def test_a_rolled_back_end_is_not_counted(django_capture_on_commit_callbacks):
    before = sample("transfers_outcomes_total", state="completed", code="")
    transfer = _transfer(State.SUBMITTED)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), \
            transaction.atomic():
        transfer.complete(by=Trigger.WORKER)
        transfer.save()
        raise RuntimeError("rolled back")
    assert sample("transfers_outcomes_total", state="completed", code="") == before


def test_time_to_complete_is_measured_from_acceptance(django_capture_on_commit_callbacks):
    transfer = _transfer(State.SUBMITTED)
    Transfer.objects.filter(pk=transfer.pk).update(
        created_at=timezone.now() - timedelta(seconds=90))
    transfer = Transfer.objects.get(pk=transfer.pk)
    under_a_minute = sample("transfers_completion_seconds_bucket", state="completed", le="60.0")
    under_two = sample("transfers_completion_seconds_bucket", state="completed", le="120.0")
    with django_capture_on_commit_callbacks(execute=True):
        _end(transfer, "complete")
    assert sample("transfers_completion_seconds_bucket", state="completed",
                  le="60.0") == under_a_minute
    assert sample("transfers_completion_seconds_bucket", state="completed",
                  le="120.0") == under_two + 1


def test_open_transfers_are_counted_per_state(client):
    _transfer(State.NEEDS_ATTENTION)
    _transfer(State.IN_REVIEW)
    _transfer(State.IN_REVIEW)
    _transfer(State.COMPLETED, due_at=None)
    values = scrape(client)
    assert values[("transfers", (("state", "needs_attention"),))] == 1
    assert values[("transfers", (("state", "in_review"),))] == 2
    assert ("transfers", (("state", "completed"),)) not in values
    assert values[("metrics_collector_errors", (("family", "transfers"),))] == 0


def test_money_held_is_amount_plus_fee_of_every_transfer_holding_it(client):
    now = timezone.now()
    held = _transfer(State.FUNDS_HELD, 100_000, hold_requested_at=now - timedelta(minutes=3))
    submitted = _transfer(State.SUBMITTED, 250_000, hold_requested_at=now - timedelta(hours=2))
    attention = _transfer(State.NEEDS_ATTENTION, 50_000, hold_requested_at=now)
    _transfer(State.COMPLETED, 900_000, hold_requested_at=now, due_at=None)
    _transfer(State.CHECKED, 900_000)
    values = scrape(client)

    def money(state):
        return values[("transfers_money_held_minor_units",
                       (("currency", "KES"), ("state", state)))]

    assert money("funds_held") == held.total
    assert money("submitted") == submitted.total
    assert money("needs_attention") == attention.total
    assert 7190 <= values[("transfers_oldest_hold_seconds", (("state", "submitted"),))] <= 7300
    assert 170 <= values[("transfers_oldest_hold_seconds", (("state", "funds_held"),))] <= 300


def test_the_inquiry_backlog_counts_submitted_transfers_with_no_final_answer(client):
    now = timezone.now()
    _transfer(State.SUBMITTED, network_outcome=NetworkOutcome.UNKNOWN,
              payout_sent_at=now - timedelta(minutes=20))
    _transfer(State.SUBMITTED, network_outcome=NetworkOutcome.PENDING, payout_sent_at=now)
    _transfer(State.SUBMITTED, network_outcome=NetworkOutcome.APPROVED,
              payout_sent_at=now - timedelta(hours=5))
    _transfer(State.NEEDS_ATTENTION, network_outcome=NetworkOutcome.UNKNOWN,
              payout_sent_at=now - timedelta(hours=5))
    values = scrape(client)
    assert values[("transfers_inquiry_backlog", (("outcome", "unknown"),))] == 1
    assert values[("transfers_inquiry_backlog", (("outcome", "pending"),))] == 1
    assert 1190 <= values[("transfers_oldest_inquiry_seconds", ())] <= 1300


def test_transfers_past_due_are_counted_with_the_oldest_ones_lateness(client):
    now = timezone.now()
    _transfer(State.CHECKED, due_at=now - timedelta(minutes=10))
    _transfer(State.CHECKED, due_at=now + timedelta(minutes=1))
    _transfer(State.FUNDS_HELD, due_at=now + timedelta(minutes=1))
    values = scrape(client)
    assert values[("transfers_stuck", (("state", "checked"),))] == 1
    assert values[("transfers_stuck", (("state", "funds_held"),))] == 0
    assert 590 <= values[("transfers_oldest_stuck_seconds", (("state", "checked"),))] <= 700
    assert values[("transfers_oldest_stuck_seconds", (("state", "received"),))] == 0


def test_with_nothing_open_every_gauge_reads_zero(client):
    values = scrape(client)
    assert values[("transfers_money_held_minor_units",
                   (("currency", "KES"), ("state", "submitted")))] == 0
    assert values[("transfers_oldest_inquiry_seconds", ())] == 0
    assert values[("transfers", (("state", "needs_attention"),))] == 0
