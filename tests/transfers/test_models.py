"""The Transfer FSM, exactly the table of moves; fees; money columns that must add up."""

import pytest
from django.db import IntegrityError, transaction
from django_fsm import ConcurrentTransition, TransitionNotAllowed

from core.models import TransitionLog, Trigger
from transfers.models import FeeSchedule, State, Transfer

from .factories import QuoteFactory, TransferFactory

LEGAL = {
    "mark_checked": ([State.RECEIVED, State.IN_REVIEW], State.CHECKED),
    "send_to_review": ([State.RECEIVED], State.IN_REVIEW),
    "reject": ([State.RECEIVED, State.IN_REVIEW, State.CHECKED], State.REJECTED),
    "cancel": ([State.RECEIVED, State.CHECKED], State.CANCELLED),
    "mark_funds_held": ([State.CHECKED], State.FUNDS_HELD),
    "mark_submitted": ([State.FUNDS_HELD], State.SUBMITTED),
    "complete": ([State.SUBMITTED, State.NEEDS_ATTENTION], State.COMPLETED),
    "decline": ([State.FUNDS_HELD, State.SUBMITTED, State.NEEDS_ATTENTION], State.DECLINED),
    "need_attention": ([State.SUBMITTED], State.NEEDS_ATTENTION),
}
CASES = [(name, source, target) for name, (sources, target) in LEGAL.items() for source in sources]
ILLEGAL = [(name, source) for name, (sources, _) in LEGAL.items()
           for source in State.values if source not in sources]
# The state table of the contract, target by source: the union of LEGAL must be exactly it.
TABLE = {
    State.RECEIVED: {State.CHECKED, State.IN_REVIEW, State.REJECTED, State.CANCELLED},
    State.IN_REVIEW: {State.CHECKED, State.REJECTED},
    State.CHECKED: {State.FUNDS_HELD, State.REJECTED, State.CANCELLED},
    State.FUNDS_HELD: {State.SUBMITTED, State.DECLINED},
    State.SUBMITTED: {State.COMPLETED, State.DECLINED, State.NEEDS_ATTENTION},
    State.NEEDS_ATTENTION: {State.COMPLETED, State.DECLINED},
}


def _call(transfer, name):
    kwargs = {"by": Trigger.WORKER}
    if name == "reject":
        kwargs["reason"] = "test_rejection"
    getattr(transfer, name)(**kwargs)


def test_the_declared_moves_are_exactly_the_contracts_state_table():
    declared: dict[str, set] = {}
    for sources, target in LEGAL.values():
        for source in sources:
            declared.setdefault(source, set()).add(target)
    assert declared == TABLE
    terminal = set(State.values) - set(TABLE)
    assert terminal == {State.COMPLETED, State.DECLINED, State.REJECTED, State.CANCELLED}


@pytest.mark.django_db
@pytest.mark.parametrize("name,source,target", CASES)
def test_legal_transition_moves_state_and_appends_one_log_row(name, source, target):
    transfer = TransferFactory(state=source)
    with transaction.atomic():
        _call(transfer, name)
        transfer.save()
    assert Transfer.objects.get(pk=transfer.pk).state == target
    log = list(TransitionLog.objects.filter(machine="transfer", object_id=transfer.pk))
    assert [(row.from_state, row.to_state, row.transition) for row in log] == [
        (source, target, name)]


@pytest.mark.django_db
@pytest.mark.parametrize("name,source", ILLEGAL)
def test_illegal_transition_is_refused_and_logs_nothing(name, source):
    transfer = TransferFactory(state=source)
    with pytest.raises(TransitionNotAllowed):
        _call(transfer, name)
    assert Transfer.objects.get(pk=transfer.pk).state == source
    assert not TransitionLog.objects.filter(object_id=transfer.pk).exists()


@pytest.mark.django_db
def test_state_cannot_be_assigned_directly():
    transfer = TransferFactory()
    with pytest.raises(AttributeError):
        transfer.state = State.COMPLETED


@pytest.mark.django_db
def test_saving_a_stale_copy_raises_concurrent_transition():
    transfer = TransferFactory(state=State.RECEIVED)
    stale = Transfer.objects.get(pk=transfer.pk)
    with transaction.atomic():
        transfer.mark_checked(by=Trigger.WORKER)
        transfer.save()
    with pytest.raises(ConcurrentTransition), transaction.atomic():
        stale.cancel(by=Trigger.API)
        stale.save()
    assert Transfer.objects.get(pk=transfer.pk).state == State.CHECKED


@pytest.mark.django_db
def test_terminal_states_leave_the_beat_sweep():
    transfer = TransferFactory(state=State.SUBMITTED)
    with transaction.atomic():
        transfer.complete(by=Trigger.WORKER)
        transfer.save()
    assert Transfer.objects.get(pk=transfer.pk).due_at is None


@pytest.mark.parametrize("amount,expected", [(100, 2500), (250_000, 2500), (300_000, 3000),
                                             (300_001, 3001), (10_000_000, 30000)])
def test_fee_is_fixed_plus_basis_points_rounded_up_and_bounded(amount, expected):
    schedule = FeeSchedule(version=9, fixed_fee=0, percent_bps=100, min_fee=2500, max_fee=30000)
    assert schedule.fee_for(amount) == expected


@pytest.mark.django_db
def test_the_first_fee_schedule_is_installed_by_migration():
    from .conftest import install_first_fee_schedule

    FeeSchedule.objects.all().delete()
    install_first_fee_schedule()
    first = FeeSchedule.objects.get(version=1)
    assert (first.fixed_fee, first.percent_bps, first.max_fee) == (2500, 100, 30000)


@pytest.mark.django_db
def test_a_quote_whose_total_is_not_amount_plus_fee_is_refused_by_the_database():
    with pytest.raises(IntegrityError), transaction.atomic():
        QuoteFactory(amount=1000, fee=10, total=1011)
