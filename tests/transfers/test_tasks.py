"""Transfers' tasks are thin and bounded: a transient error retries until the row's budget
is spent, then the transfer ends with the error's code; beat's job is declared."""

import pytest

from core import schedules
from core.outside.http import TransientError
from transfers import tasks
from transfers.models import State, Transfer

from .factories import TransferFactory

pytestmark = pytest.mark.django_db


def test_a_screening_that_keeps_failing_rejects_after_the_rows_budget(network, settings):
    settings.OUTSIDE_MAX_ATTEMPTS = 3
    network.screening = TransientError("screening_unavailable", system="screening", status=503)
    transfer = TransferFactory(state=State.RECEIVED)
    tasks.check_transfer_task.apply(args=[str(transfer.pk)])
    transfer.refresh_from_db()
    assert transfer.state == State.REJECTED
    assert transfer.failure_code == "screening_unavailable"
    assert network.screenings == 3


def test_a_repeated_task_is_a_no_op(network, fake_ledger, no_tasks):
    transfer = TransferFactory(state=State.RECEIVED)
    tasks.check_transfer_task.apply(args=[str(transfer.pk)])
    tasks.check_transfer_task.apply(args=[str(transfer.pk)])
    assert Transfer.objects.get(pk=transfer.pk).state == State.CHECKED
    assert no_tasks == [("hold_funds_task", str(transfer.pk))]


def test_beat_redrive_of_transfers_is_declared_on_the_reconciliation_queue():
    job = next(item for item in schedules.declared() if item["name"] == "redrive due transfers")
    assert job["task"] == "transfers.tasks.redrive_due_transfers_task"
    assert job["queue"] == "reconciliation"


def test_transfer_tasks_are_routed_to_their_own_queue(settings):
    from config.celery import app

    route = app.amqp.router.route({}, "transfers.tasks.send_payout_task")
    assert route["queue"].name == "transfers"
