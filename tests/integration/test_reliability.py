"""Lost messages, duplicated tasks and killed workers: every request still ends, once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from provisioning import services, sweeps
from provisioning.models import ProvisioningRequest, State
from provisioning.tasks import request_token_task
from tests.factories import ProvisioningRequestFactory
from tokens.models import Token

pytestmark = [pytest.mark.integration]


def test_request_whose_message_was_lost_is_redriven_by_the_sweep(stack):
    # A row committed in `received` whose eligibility message never reached the broker.
    lost = ProvisioningRequestFactory(customer_id="cust_demo", card_id="card_green",
                                      state=State.RECEIVED, card_last4="",
                                      due_at=timezone.now() - timedelta(seconds=1))
    assert sweeps.redrive_due_requests()["redriven"] == 1
    stack.wait_terminal(lost.pk)
    assert ProvisioningRequest.objects.get(pk=lost.pk).state == State.PROVISIONED


def test_token_requested_request_the_token_service_never_saw_is_resent(stack):
    lost = ProvisioningRequestFactory(customer_id="cust_demo", card_id="card_green",
                                      state=State.TOKEN_REQUESTED,
                                      due_at=timezone.now() - timedelta(seconds=1))
    sweeps.redrive_due_requests()
    stack.wait_terminal(lost.pk)
    assert ProvisioningRequest.objects.get(pk=lost.pk).state == State.PROVISIONED
    assert stack.sandbox_stats()["calls"]["token_service"]["provision_status"] >= 1


def test_decision_missed_by_webhook_is_found_by_the_poll(stack):
    created = stack.create("card_late")
    stack.wait_for_state(created["id"], "token_requested")
    # Whether or not the webhook has landed yet, a poll must converge on one outcome.
    services.poll_decision(created["id"])
    stack.wait_terminal(created["id"])
    assert ProvisioningRequest.objects.get(pk=created["id"]).state == State.PROVISIONED
    assert Token.objects.filter(provisioning_request_id=created["id"]).count() == 1


def test_the_same_task_enqueued_three_times_has_one_effect(stack):
    request = ProvisioningRequestFactory(customer_id="cust_demo", card_id="card_green",
                                         state=State.ELIGIBLE)
    for _ in range(3):
        request_token_task.delay(str(request.pk))
    stack.wait_terminal(request.pk)
    assert Token.objects.filter(provisioning_request=request).count() == 1
    stats = stack.sandbox_stats()
    assert stats["idempotency"]["duplicate_effects"] == 0
    assert stats["idempotency"]["request_ids_with_multiple_tokens"] == {}
    assert stats["calls"]["token_service"].get("provision", 0) <= 3


def test_worker_killed_mid_run_loses_nothing(stack, settings):
    created = [stack.create(card) for card in
               ("card_green", "card_flaky", "card_late", "card_declined", "card_green")]
    stack.worker.kill()  # kill -9 the whole worker, children included, mid-flight
    stack.worker.start()
    # Whatever the kill interrupted, beat's sweep moves it on (run here by hand, as beat
    # would on its schedule): make every unfinished request due now.
    ProvisioningRequest.objects.filter(
        pk__in=[c["id"] for c in created], due_at__isnull=False
    ).update(due_at=timezone.now())
    sweeps.redrive_due_requests()
    finals = {c["id"]: stack.wait_terminal(c["id"], timeout=60).state for c in created}
    assert sorted(finals.values()) == sorted(
        ["provisioned", "provisioned", "provisioned", "declined", "provisioned"])
    stats = stack.sandbox_stats()
    assert stats["idempotency"]["duplicate_effects"] == 0
    assert stats["idempotency"]["request_ids_with_multiple_tokens"] == {}
    for c in created:
        assert Token.objects.filter(provisioning_request_id=c["id"]).count() <= 1
