"""Transfers' tasks are thin and bounded: a transient error retries until the row's budget
is spent, then the transfer ends with the error's code; beat's job is declared."""

import pytest

from core import schedules
from core.models import TransitionLog
from core.outside.http import TransientError
from transfers import tasks
from transfers.models import State, Transfer

from .factories import TransferFactory

pytestmark = pytest.mark.django_db

# The tests of one task running the next steps commit for real (transaction=True): the
# worker runs in autocommit, and a step's move is handed on only once it has committed.


def test_a_screening_that_keeps_failing_rejects_after_the_rows_budget(network, settings):
    settings.OUTSIDE_MAX_ATTEMPTS = 3
    network.screening = TransientError("screening_unavailable", system="screening", status=503)
    transfer = TransferFactory(state=State.RECEIVED)
    tasks.check_transfer_task.apply(args=[str(transfer.pk)])
    transfer.refresh_from_db()
    assert transfer.state == State.REJECTED
    assert transfer.failure_code == "screening_unavailable"
    assert network.screenings == 3


@pytest.mark.django_db(transaction=True)
def test_one_task_runs_a_transfer_that_meets_no_wait_from_check_to_capture(
        network, fake_ledger, no_tasks):
    transfer = TransferFactory(state=State.RECEIVED)
    tasks.check_transfer_task.apply(args=[str(transfer.pk)])
    transfer.refresh_from_db()
    assert transfer.state == State.COMPLETED
    assert [move for move, _ in fake_ledger.effects] == ["hold", "captured"]
    assert network.sends == [str(transfer.pk)]
    assert no_tasks == []  # nothing published: each next step ran in this task
    # Each step still committed its own move: one log row per transition, in order.
    assert list(TransitionLog.objects.filter(machine="transfer", object_id=transfer.pk)
                .order_by("id").values_list("to_state", flat=True)) == [
        State.CHECKED, State.FUNDS_HELD, State.SUBMITTED, State.COMPLETED]


@pytest.mark.django_db(transaction=True)
def test_a_repeated_task_is_a_no_op(network, fake_ledger, no_tasks):
    transfer = TransferFactory(state=State.RECEIVED)
    tasks.check_transfer_task.apply(args=[str(transfer.pk)])
    tasks.check_transfer_task.apply(args=[str(transfer.pk)])
    tasks.hold_funds_task.apply(args=[str(transfer.pk)])
    tasks.settle_transfer_task.apply(args=[str(transfer.pk)])
    assert Transfer.objects.get(pk=transfer.pk).state == State.COMPLETED
    assert len(fake_ledger.effects) == 2
    assert network.sends == [str(transfer.pk)]
    assert no_tasks == []


@pytest.mark.django_db(transaction=True)
def test_a_later_steps_transient_error_is_published_as_that_steps_own_retry(
        network, fake_ledger, no_tasks):
    fake_ledger.fail_next.append(
        TransientError("mpesa_unavailable", system="mpesa", status=503))
    transfer = TransferFactory(state=State.RECEIVED)
    tasks.check_transfer_task.apply(args=[str(transfer.pk)])
    assert Transfer.objects.get(pk=transfer.pk).state == State.CHECKED
    assert no_tasks == [("hold_funds_task", str(transfer.pk))]
    assert fake_ledger.effects == []

    tasks.hold_funds_task.apply(args=[str(transfer.pk)])  # the published retry
    assert Transfer.objects.get(pk=transfer.pk).state == State.COMPLETED
    assert [move for move, _ in fake_ledger.effects] == ["hold", "captured"]


@pytest.mark.django_db(transaction=True)
def test_a_step_that_must_wait_stops_the_chain_and_publishes_its_inquiry(
        network, fake_ledger, no_tasks):
    network.send_script.append("pending")
    transfer = TransferFactory(state=State.RECEIVED)
    tasks.check_transfer_task.apply(args=[str(transfer.pk)])
    transfer.refresh_from_db()
    assert transfer.state == State.SUBMITTED
    assert no_tasks == [("inquire_payout_task", str(transfer.pk))]
    assert fake_ledger.moves("captured") == []


def test_a_step_called_outside_a_task_publishes_the_next_one(network, fake_ledger, no_tasks,
                                                              django_capture_on_commit_callbacks):
    from transfers import steps

    transfer = TransferFactory(state=State.CHECKED)
    with django_capture_on_commit_callbacks(execute=True):
        steps.hold_funds(str(transfer.pk))
    assert Transfer.objects.get(pk=transfer.pk).state == State.FUNDS_HELD
    assert no_tasks == [("send_payout_task", str(transfer.pk))]


def test_beat_redrive_of_transfers_is_declared_on_the_reconciliation_queue():
    job = next(item for item in schedules.declared() if item["name"] == "redrive due transfers")
    assert job["task"] == "transfers.tasks.redrive_due_transfers_task"
    assert job["queue"] == "reconciliation"


def test_transfer_tasks_are_routed_to_their_own_queue(settings):
    from config.celery import app

    route = app.amqp.router.route({}, "transfers.tasks.send_payout_task")
    assert route["queue"].name == "transfers"
