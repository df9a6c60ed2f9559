"""API v1 for provisioning requests: cancelling one (and what it does to a step-up)."""

from __future__ import annotations

import pytest

from provisioning.models import ProvisioningRequest, State
from tests.factories import ProvisioningRequestFactory
from tests.provisioning.api_support import URL, post

# --- cancel ---------------------------------------------------------------------------

@pytest.mark.django_db
def test_cancel_in_received_is_200_and_cancelled(api_client, customer_id):
    request = ProvisioningRequestFactory(customer_id=customer_id, state=State.RECEIVED)
    response = api_client.post(f"{URL}/{request.id}/cancel")
    assert response.status_code == 200
    assert response.json()["state"] == "cancelled"


@pytest.mark.django_db
@pytest.mark.parametrize("state", [State.TOKEN_REQUESTED, State.PROVISIONED, State.FAILED])
def test_cancel_where_the_state_forbids_is_409(api_client, customer_id, state):
    request = ProvisioningRequestFactory(customer_id=customer_id, state=state)
    response = api_client.post(f"{URL}/{request.id}/cancel")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "cancel_not_allowed"
    assert ProvisioningRequest.objects.get(pk=request.pk).state == state


@pytest.mark.django_db
def test_cancel_once_the_code_was_accepted_is_409_and_activation_goes_on(api_client, customer_id):
    request = ProvisioningRequestFactory(customer_id=customer_id, state=State.STEP_UP_REQUIRED,
                                         otp_expires_at=None, otp_hash="")
    response = api_client.post(f"{URL}/{request.id}/cancel")
    assert response.status_code == 409
    error = response.json()["error"]
    assert (error["code"], error["details"]) == (
        "cancel_not_allowed", {"state": "step_up_required", "activation_in_progress": True})
    assert ProvisioningRequest.objects.get(pk=request.pk).state == State.STEP_UP_REQUIRED


@pytest.mark.django_db
def test_cancel_during_step_up_deletes_the_inactive_token(api_client, customer_id):
    from datetime import timedelta

    from django.utils import timezone

    from tests.factories import TokenFactory
    from tokens.models import Token, TokenState

    request = ProvisioningRequestFactory(
        customer_id=customer_id, state=State.STEP_UP_REQUIRED, otp_hash="x" * 64,
        otp_expires_at=timezone.now() + timedelta(minutes=5))
    token = TokenFactory(provisioning_request=request, customer_id=customer_id,
                         state=TokenState.INACTIVE)
    response = api_client.post(f"{URL}/{request.id}/cancel")
    assert response.status_code == 200
    assert response.json()["failure"]["code"] == "cancelled_by_customer"
    stored = ProvisioningRequest.objects.get(pk=request.pk)
    assert (stored.state, stored.otp_hash) == (State.CANCELLED, "")
    assert Token.objects.get(pk=token.pk).operations_requested == 1  # delete enqueued


@pytest.mark.django_db
def test_cancel_of_another_customers_request_is_404(other_client, customer_id):
    request = ProvisioningRequestFactory(customer_id=customer_id, state=State.RECEIVED)
    assert other_client.post(f"{URL}/{request.id}/cancel").status_code == 404
    assert ProvisioningRequest.objects.get(pk=request.pk).state == State.RECEIVED
