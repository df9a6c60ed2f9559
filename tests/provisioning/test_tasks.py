"""Provisioning's step tasks: a push the issuer and the token service say yes to is one
task (core/handoff.py, ADR 0013); a later step's transient error, a step-up and a step
run outside a task still publish.

The tests of one task running the next step commit for real (transaction=True): the
worker runs in autocommit, and a step's move is handed on only once it has committed.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.outside.http import TransientError
from provisioning import services, sweeps, tasks
from provisioning.models import ProvisioningRequest, State
from tests.factories import ProvisioningRequestFactory, logged_path
from tokens.models import Token, TokenState
from tokens.token_service import Decision

from .stubs import StubIssuer, StubTokenService, stub_clients  # noqa: F401 (autouse)

_STEP_TASKS = ("check_eligibility_task", "request_token_task", "poll_decision_task",
               "activate_step_up_token_task")


@pytest.fixture
def published(monkeypatch):
    """Record what would be published instead of sending it to a broker: provisioning's
    step tasks as (name, request id, countdown), the notification task as its name."""
    from notifications import tasks as notification_tasks

    sent: list[tuple] = []
    for name in _STEP_TASKS:
        task = getattr(tasks, name)
        monkeypatch.setattr(task, "delay_on_commit",
                            lambda request_id, _n=name: sent.append((_n, request_id, None)))
        monkeypatch.setattr(task, "apply_async",
                            lambda args, _n=name, countdown=None, **kw:
                            sent.append((_n, args[0], countdown)))
    monkeypatch.setattr(notification_tasks.send_notification_task, "delay_on_commit",
                        lambda notification_id: sent.append(("send_notification_task",)))
    return sent


def _steps(sent) -> list[tuple]:
    return [item for item in sent if item[0] in _STEP_TASKS]


@pytest.mark.django_db(transaction=True)
def test_one_task_runs_a_push_from_eligibility_to_provisioned(published):
    request = ProvisioningRequestFactory(state=State.RECEIVED)
    tasks.check_eligibility_task.apply(args=[str(request.pk)])
    stored = ProvisioningRequest.objects.get(pk=request.pk)
    assert stored.state == State.PROVISIONED
    assert Token.objects.get(provisioning_request=stored).state == TokenState.ACTIVE
    assert [call.request_id for call in StubTokenService.provision_calls] == [str(request.pk)]
    assert _steps(published) == []  # nothing published: the token request ran in this task
    # The customer's notice still goes through the outbox to its own queue.
    assert ("send_notification_task",) in published
    # Each step still committed its own move: one log row per transition, in order.
    assert logged_path(request) == [State.ELIGIBLE, State.TOKEN_REQUESTED, State.PROVISIONED]


@pytest.mark.django_db(transaction=True)
def test_a_repeated_task_is_a_no_op(published):
    request = ProvisioningRequestFactory(state=State.RECEIVED)
    tasks.check_eligibility_task.apply(args=[str(request.pk)])
    tasks.check_eligibility_task.apply(args=[str(request.pk)])
    tasks.request_token_task.apply(args=[str(request.pk)])
    assert ProvisioningRequest.objects.get(pk=request.pk).state == State.PROVISIONED
    assert len(StubTokenService.provision_calls) == 1
    assert [kind for kind, _ in StubIssuer.calls] == ["eligibility", "card_data"]
    assert _steps(published) == []


@pytest.mark.django_db(transaction=True)
def test_a_later_steps_transient_error_is_published_as_that_steps_own_retry(published):
    StubIssuer.card_failures.append(TransientError("issuer_unavailable", system="issuer",
                                                   status=503))
    request = ProvisioningRequestFactory(state=State.RECEIVED)
    tasks.check_eligibility_task.apply(args=[str(request.pk)])
    stored = ProvisioningRequest.objects.get(pk=request.pk)
    assert stored.state == State.ELIGIBLE and stored.attempts == 1
    ((name, request_id, countdown),) = _steps(published)
    assert (name, request_id) == ("request_token_task", str(request.pk))
    assert countdown is not None and countdown > 0  # the row's backoff, as a task retry
    assert StubTokenService.provision_calls == []

    tasks.request_token_task.apply(args=[str(request.pk)])  # the published retry
    assert ProvisioningRequest.objects.get(pk=request.pk).state == State.PROVISIONED
    assert len(StubTokenService.provision_calls) == 1


@pytest.mark.django_db(transaction=True)
def test_a_step_up_stops_the_chain_and_waits_for_the_customer(published):
    StubTokenService.decision = Decision("yellow", "tkn_2", "INACTIVE", "9876", "12/29",
                                         {"opaque_payment_card": "eWVsbG93"})
    request = ProvisioningRequestFactory(state=State.RECEIVED)
    tasks.check_eligibility_task.apply(args=[str(request.pk)])
    stored = ProvisioningRequest.objects.get(pk=request.pk)
    assert stored.state == State.STEP_UP_REQUIRED
    assert Token.objects.get(provisioning_request=stored).state == TokenState.INACTIVE
    assert _steps(published) == []  # the activation waits for the customer's code
    assert ("send_notification_task",) in published  # the code's SMS, on its own queue


@pytest.mark.django_db(transaction=True)
def test_a_pending_decision_stops_the_chain_in_token_requested(published):
    StubTokenService.decision = Decision("pending")
    request = ProvisioningRequestFactory(state=State.RECEIVED)
    tasks.check_eligibility_task.apply(args=[str(request.pk)])
    assert ProvisioningRequest.objects.get(pk=request.pk).state == State.TOKEN_REQUESTED
    assert _steps(published) == []  # the webhook or beat's poll brings the decision


def test_a_step_called_outside_a_task_publishes_the_next_one(
        db, published, django_capture_on_commit_callbacks):
    request = ProvisioningRequestFactory(state=State.RECEIVED)
    with django_capture_on_commit_callbacks(execute=True):
        services.check_eligibility(str(request.pk))
    assert ProvisioningRequest.objects.get(pk=request.pk).state == State.ELIGIBLE
    assert _steps(published) == [("request_token_task", str(request.pk), None)]
    assert StubTokenService.provision_calls == []


@pytest.mark.django_db(transaction=True)
def test_beat_redrive_publishes_the_step_and_its_task_runs_the_rest(published):
    request = ProvisioningRequestFactory(state=State.RECEIVED,
                                         due_at=timezone.now() - timedelta(seconds=5))
    assert sweeps.redrive_due_requests()["redriven"] == 1
    assert _steps(published) == [("check_eligibility_task", str(request.pk), None)]

    tasks.check_eligibility_task.apply(args=[str(request.pk)])  # the re-driven message
    assert ProvisioningRequest.objects.get(pk=request.pk).state == State.PROVISIONED
    assert len(_steps(published)) == 1


@pytest.mark.django_db(transaction=True)
def test_a_poll_that_finds_the_call_never_arrived_sends_it_again_in_the_same_task(
        published):
    request = ProvisioningRequestFactory(state=State.TOKEN_REQUESTED)
    StubTokenService.status = None  # the token service never saw the request
    tasks.poll_decision_task.apply(args=[str(request.pk)])
    assert ProvisioningRequest.objects.get(pk=request.pk).state == State.PROVISIONED
    assert [call.request_id for call in StubTokenService.provision_calls] == [str(request.pk)]
    assert _steps(published) == []


def test_the_api_create_publishes_the_first_step(api_client, db, published,
                                                 django_capture_on_commit_callbacks):
    from .api_support import post

    with django_capture_on_commit_callbacks(execute=True):
        response = post(api_client)
    assert response.status_code == 202, response.content
    assert _steps(published) == [("check_eligibility_task", response.json()["id"], None)]
