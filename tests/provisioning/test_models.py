"""The provisioning FSM: every legal transition moves and logs, every illegal one refuses."""

import pytest
from django.db import transaction
from django_fsm import ConcurrentTransition, TransitionNotAllowed

from core.models import TransitionLog, Trigger

from provisioning.models import ProvisioningRequest, State
from tests.factories import ProvisioningRequestFactory

LEGAL = {
    "mark_eligible": ([State.RECEIVED], State.ELIGIBLE),
    "mark_ineligible": ([State.RECEIVED], State.INELIGIBLE),
    "mark_token_requested": ([State.ELIGIBLE], State.TOKEN_REQUESTED),
    "require_step_up": ([State.TOKEN_REQUESTED], State.STEP_UP_REQUIRED),
    "mark_provisioned": ([State.TOKEN_REQUESTED, State.STEP_UP_REQUIRED], State.PROVISIONED),
    "decline": ([State.TOKEN_REQUESTED, State.STEP_UP_REQUIRED], State.DECLINED),
    "expire": ([State.STEP_UP_REQUIRED], State.EXPIRED),
    "cancel": ([State.RECEIVED, State.ELIGIBLE, State.STEP_UP_REQUIRED], State.CANCELLED),
    "fail": ([State.RECEIVED, State.ELIGIBLE, State.TOKEN_REQUESTED], State.FAILED),
    "retry": ([State.FAILED], State.RECEIVED),
}
CASES = [(name, source, target) for name, (sources, target) in LEGAL.items() for source in sources]
ILLEGAL = [
    (name, source)
    for name, (sources, _target) in LEGAL.items()
    for source in State.values
    if source not in sources
]


def _call(request, name):
    kwargs = {"by": Trigger.WORKER}
    if name == "fail":
        kwargs["reason"] = "test_failure"
    getattr(request, name)(**kwargs)


@pytest.mark.django_db
@pytest.mark.parametrize("name,source,target", CASES)
def test_legal_transition_moves_state_and_appends_one_log_row(name, source, target):
    request = ProvisioningRequestFactory(state=source)
    with transaction.atomic():
        _call(request, name)
        request.save()
    stored = ProvisioningRequest.objects.get(pk=request.pk)
    assert stored.state == target
    log = list(TransitionLog.objects.filter(object_id=request.pk))
    assert [(row.from_state, row.to_state, row.transition) for row in log] == [
        (source, target, name)
    ]
    assert log[0].trigger == Trigger.WORKER


@pytest.mark.django_db
@pytest.mark.parametrize("name,source", ILLEGAL)
def test_illegal_transition_is_refused_and_logs_nothing(name, source):
    request = ProvisioningRequestFactory(state=source)
    with pytest.raises(TransitionNotAllowed):
        _call(request, name)
    assert ProvisioningRequest.objects.get(pk=request.pk).state == source
    assert not TransitionLog.objects.filter(object_id=request.pk).exists()


@pytest.mark.django_db
def test_state_cannot_be_assigned_directly():
    request = ProvisioningRequestFactory(state=State.RECEIVED)
    with pytest.raises(AttributeError):
        request.state = State.PROVISIONED


@pytest.mark.django_db
def test_saving_a_stale_copy_raises_concurrent_transition():
    request = ProvisioningRequestFactory(state=State.RECEIVED)
    stale = ProvisioningRequest.objects.get(pk=request.pk)
    with transaction.atomic():
        request.mark_eligible(by=Trigger.WORKER)
        request.save()
    with pytest.raises(ConcurrentTransition), transaction.atomic():
        stale.mark_ineligible(by=Trigger.WORKER, reason="card_blocked")
        stale.save()
    assert ProvisioningRequest.objects.get(pk=request.pk).state == State.ELIGIBLE


@pytest.mark.django_db
def test_transition_log_rows_cannot_be_changed_or_deleted():
    request = ProvisioningRequestFactory(state=State.RECEIVED)
    with transaction.atomic():
        request.mark_eligible(by=Trigger.WORKER)
        request.save()
    row = TransitionLog.objects.get(object_id=request.pk)
    with pytest.raises(ValueError):
        row.save()
    with pytest.raises(ValueError):
        row.delete()


@pytest.mark.django_db(transaction=True)
def test_database_refuses_update_of_the_transition_log():
    from django.db import DatabaseError

    request = ProvisioningRequestFactory(state=State.RECEIVED)
    with transaction.atomic():
        request.mark_eligible(by=Trigger.WORKER)
        request.save()
    with pytest.raises(DatabaseError, match="append-only"):
        TransitionLog.objects.filter(object_id=request.pk).update(reason="rewritten")
    assert TransitionLog.objects.get(object_id=request.pk).reason == ""


@pytest.mark.django_db
def test_rolled_back_transition_leaves_no_log_row():
    request = ProvisioningRequestFactory(state=State.RECEIVED)
    with pytest.raises(RuntimeError), transaction.atomic():
        request.mark_eligible(by=Trigger.WORKER)
        request.save()
        raise RuntimeError("boom")
    assert not TransitionLog.objects.filter(object_id=request.pk).exists()
    assert ProvisioningRequest.objects.get(pk=request.pk).state == State.RECEIVED


@pytest.mark.django_db
def test_a_transition_without_a_reason_logs_its_default_reason():
    request = ProvisioningRequestFactory(state=State.FAILED)
    with transaction.atomic():
        request.retry(by=Trigger.ADMIN)
        request.save()
    assert TransitionLog.objects.get(object_id=request.pk).reason == "operations_retry"
