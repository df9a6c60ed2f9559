"""A worker step moves the row it loaded, without locking it again: the model's
ConcurrentTransitionMixin (django-fsm-2) refuses the save when someone else moved the
row during the step's outside calls, and everything the step wrote with its move (the
log row, the outbox row, the rule results, the token) rolls back with it.

The "someone else" runs inside the stubbed outside call, in its own committed
transaction (transaction=True), as a customer's cancel or the token service's webhook
would between the step's load and its save.
"""

from __future__ import annotations

import pytest

from core.models import TransitionLog, Trigger
from decisioning.models import RuleResult
from notifications.models import Notification
from provisioning import services
from provisioning.models import ProvisioningRequest, State
from tests.factories import ProvisioningRequestFactory, logged_path
from tokens.models import Token, TokenState
from tokens.token_service import Decision

from .stubs import StubIssuer, StubTokenService, stub_clients  # noqa: F401 (autouse)

GREEN = Decision("green", "tkn_1", "ACTIVE", "9876", "12/29", {"opaque_payment_card": "b3BhcXVl"})


@pytest.mark.django_db(transaction=True)
def test_a_push_cancelled_during_the_eligibility_call_stays_cancelled(monkeypatch):
    request = ProvisioningRequestFactory(state=State.RECEIVED)
    answer = StubIssuer.check_eligibility

    def cancelled_meanwhile(self, **kwargs):
        services.cancel_request(request.customer_id, request.pk)
        return answer(self, **kwargs)

    monkeypatch.setattr(StubIssuer, "check_eligibility", cancelled_meanwhile)
    services.check_eligibility(request.pk)

    stored = ProvisioningRequest.objects.get(pk=request.pk)
    assert stored.state == State.CANCELLED
    assert stored.card_last4 == request.card_last4  # the step's fields rolled back too
    assert logged_path(request) == [State.CANCELLED]
    assert not RuleResult.objects.filter(request_id=request.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_a_webhook_that_provisions_during_the_call_leaves_one_token_and_one_notice(monkeypatch):
    request = ProvisioningRequestFactory(state=State.ELIGIBLE)

    def webhook_first(self, call):
        StubTokenService.provision_calls.append(call)
        assert services.apply_decision(request.pk, GREEN, by=Trigger.WEBHOOK) is True
        return GREEN

    monkeypatch.setattr(StubTokenService, "provision", webhook_first)
    services.request_token(request.pk)  # its own answer arrives second: a no-op

    stored = ProvisioningRequest.objects.get(pk=request.pk)
    assert stored.state == State.PROVISIONED
    assert list(Token.objects.filter(provisioning_request=stored)
                .values_list("state", flat=True)) == [TokenState.ACTIVE]
    assert logged_path(request) == [State.TOKEN_REQUESTED, State.PROVISIONED]
    provisioned = TransitionLog.objects.get(object_id=request.pk, to_state=State.PROVISIONED)
    assert provisioned.trigger == Trigger.WEBHOOK
    assert Notification.objects.filter(object_id=request.pk).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_request_failed_by_beat_during_the_card_read_is_not_moved_on(monkeypatch):
    request = ProvisioningRequestFactory(state=State.ELIGIBLE)
    read = StubIssuer.card_data

    def failed_meanwhile(self, **kwargs):
        services.fail_request(request.pk, "redrive_limit_reached", by=Trigger.BEAT)
        return read(self, **kwargs)

    monkeypatch.setattr(StubIssuer, "card_data", failed_meanwhile)
    services.request_token(request.pk)

    assert ProvisioningRequest.objects.get(pk=request.pk).state == State.FAILED
    assert StubTokenService.provision_calls == []  # never asked for a token
    assert logged_path(request) == [State.FAILED]
