"""Who suspended a token decides who may lift it: the app lifts only the customer's own
suspensions; operations (in admin), the token service and the issuer suspend with more
authority, and only operations or the token service's own events lift those."""

from __future__ import annotations

import time
import uuid

import pytest
from django.db import transaction

from core.models import TransitionLog, Trigger
from tests.factories import TokenFactory
from tests.tokens.test_webhooks import deliver
from tokens import services
from tokens.models import SuspendedBy, Token, TokenState
from tokens.token_service import TokenStatus

URL = "/api/v1/tokens"
pytestmark = pytest.mark.django_db


def suspended(customer_id="cust_demo", by=SuspendedBy.CUSTOMER) -> Token:
    return TokenFactory(customer_id=customer_id, provisioning_request__customer_id=customer_id,
                        state=TokenState.SUSPENDED, suspended_by=by)


@pytest.mark.parametrize("trigger,expected", [
    (Trigger.API, SuspendedBy.CUSTOMER), (Trigger.ADMIN, SuspendedBy.OPERATIONS),
    (Trigger.WEBHOOK, SuspendedBy.TOKEN_SERVICE), (Trigger.BEAT, SuspendedBy.TOKEN_SERVICE),
])
def test_a_suspension_records_who_made_it(trigger, expected):
    token = TokenFactory(state=TokenState.ACTIVE)
    with transaction.atomic():
        token.suspend(by=trigger)
        token.save()
    assert Token.objects.get(pk=token.pk).suspended_by == expected


def test_resuming_clears_who_suspended():
    token = suspended(by=SuspendedBy.OPERATIONS)
    with transaction.atomic():
        token.resume(by=Trigger.ADMIN)
        token.save()
    assert Token.objects.get(pk=token.pk).suspended_by == ""


def test_the_app_resumes_a_suspension_the_customer_made(api_client, customer_id):
    token = suspended(customer_id, SuspendedBy.CUSTOMER)
    response = api_client.post(f"{URL}/{token.pk}/resume")
    assert response.status_code == 202
    assert Token.objects.get(pk=token.pk).operations_requested == 1


@pytest.mark.parametrize("by", [SuspendedBy.OPERATIONS, SuspendedBy.TOKEN_SERVICE,
                                SuspendedBy.ISSUER])
def test_the_app_cannot_resume_a_suspension_it_did_not_make(api_client, customer_id, by):
    token = suspended(customer_id, by)
    response = api_client.post(f"{URL}/{token.pk}/resume")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "resume_not_allowed"
    # Which authority suspended it is not the app's to know.
    assert by not in str(error) and "operations" not in str(error)
    stored = Token.objects.get(pk=token.pk)
    assert (stored.state, stored.operations_requested) == (TokenState.SUSPENDED, 0)


@pytest.mark.parametrize("by", [SuspendedBy.OPERATIONS, SuspendedBy.TOKEN_SERVICE,
                                SuspendedBy.ISSUER])
def test_operations_may_resume_any_suspension(by):
    token = suspended(by=by)
    services.request_token_change(token.pk, "resume", by=Trigger.ADMIN, actor=None)
    assert Token.objects.get(pk=token.pk).operations_requested == 1


class ResumingTokenService:
    """Stands in for the token service's HTTP client only."""

    calls: list = []

    def change_token(self, token_ref, operation, **kwargs):
        ResumingTokenService.calls.append(operation)
        return TokenStatus(token_ref, "ACTIVE", "4242", "12/29")


def test_a_resume_the_app_asked_for_is_dropped_if_the_token_service_suspended_it_meanwhile(
        monkeypatch):
    import tokens.token_service as token_service

    ResumingTokenService.calls = []
    monkeypatch.setattr(token_service, "TokenServiceClient", ResumingTokenService)
    token = suspended(by=SuspendedBy.TOKEN_SERVICE)  # after the app's resume was accepted
    assert services.apply_token_change(token.pk, "resume", 1, by=Trigger.API) is False
    assert ResumingTokenService.calls == []
    assert Token.objects.get(pk=token.pk).state == TokenState.SUSPENDED


def test_operations_resume_lands_in_the_log_with_the_user(monkeypatch):
    import tokens.token_service as token_service

    monkeypatch.setattr(token_service, "TokenServiceClient", ResumingTokenService)
    token = suspended(by=SuspendedBy.TOKEN_SERVICE)
    assert services.apply_token_change(token.pk, "resume", 1, by=Trigger.ADMIN,
                                       actor="ops_brian")
    row = TransitionLog.objects.filter(object_id=token.pk).last()
    assert (row.to_state, row.trigger, row.actor) == ("active", "admin", "ops_brian")
    assert Token.objects.get(pk=token.pk).suspended_by == ""


def _event(token_ref, kind, **data):
    return {"id": f"evt_{uuid.uuid4().hex}", "type": kind, "created": int(time.time()),
            "data": {"token_ref": token_ref, **data}}


@pytest.mark.parametrize("initiator,expected", [(None, SuspendedBy.TOKEN_SERVICE),
                                                ("wallet", SuspendedBy.TOKEN_SERVICE),
                                                ("issuer", SuspendedBy.ISSUER)])
def test_a_token_service_suspension_records_its_initiator(client, initiator, expected):
    token = TokenFactory(state=TokenState.ACTIVE)
    extra = {"initiator": initiator} if initiator else {}
    assert deliver(client, _event(token.token_ref, "token.suspended", **extra)).status_code == 200
    stored = Token.objects.get(pk=token.pk)
    assert (stored.state, stored.suspended_by) == (TokenState.SUSPENDED, expected)


def test_a_token_service_suspension_on_top_of_the_customers_takes_over(client, api_client,
                                                                        customer_id):
    token = suspended(customer_id, SuspendedBy.CUSTOMER)
    response = deliver(client, _event(token.token_ref, "token.suspended"))
    assert response.json()["outcome"] == "applied"
    assert Token.objects.get(pk=token.pk).suspended_by == SuspendedBy.TOKEN_SERVICE
    assert api_client.post(f"{URL}/{token.pk}/resume").status_code == 409


def test_the_token_services_own_resume_still_applies(client):
    token = suspended(by=SuspendedBy.ISSUER)
    assert deliver(client, _event(token.token_ref, "token.resumed")).status_code == 200
    stored = Token.objects.get(pk=token.pk)
    assert (stored.state, stored.suspended_by) == (TokenState.ACTIVE, "")
