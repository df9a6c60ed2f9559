"""Provisioning services with the HTTP clients stubbed (the only thing unit tests stub)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core import backoff
from core.outside.http import OutsideTimeout, PermanentError, TransientError
from provisioning import services, sweeps
from provisioning.issuer import Eligibility
from core.models import TransitionLog, Trigger
from provisioning.models import ProvisioningRequest, State
from tests.factories import ProvisioningRequestFactory
from core.crypto import vault
from tokens.models import Token, TokenState
from tokens.token_service import Decision

from .stubs import PAN, StubIssuer, StubTokenService, stub_clients  # noqa: F401 (autouse)


def _state(request) -> str:
    return ProvisioningRequest.objects.get(pk=request.pk).state


@pytest.mark.django_db
def test_eligible_card_moves_to_eligible_and_keeps_last4_not_pan():
    request = ProvisioningRequestFactory(state=State.RECEIVED, card_last4="")
    services.check_eligibility(request.pk)
    stored = ProvisioningRequest.objects.get(pk=request.pk)
    assert stored.state == State.ELIGIBLE
    assert stored.card_last4 == "1111"
    assert stored.customer_msisdn == "+254700000100"


@pytest.mark.django_db
def test_ineligible_card_ends_ineligible_with_the_issuer_reason():
    StubIssuer.eligibility = Eligibility(False, "card_blocked", "1111", "", "", None)
    request = ProvisioningRequestFactory(state=State.RECEIVED)
    services.check_eligibility(request.pk)
    stored = ProvisioningRequest.objects.get(pk=request.pk)
    assert stored.state == State.INELIGIBLE
    assert stored.failure_code == "card_blocked"
    assert stored.due_at is None


@pytest.mark.django_db
def test_redelivered_eligibility_task_is_a_no_op():
    request = ProvisioningRequestFactory(state=State.ELIGIBLE)
    services.check_eligibility(request.pk)
    assert _state(request) == State.ELIGIBLE
    assert StubIssuer.calls == []


@pytest.mark.django_db
def test_green_decision_provisions_activates_token_and_seals_payload():
    request = ProvisioningRequestFactory(state=State.ELIGIBLE)
    services.request_token(request.pk)
    stored = ProvisioningRequest.objects.get(pk=request.pk)
    assert stored.state == State.PROVISIONED
    token = Token.objects.get(provisioning_request=stored)
    assert token.state == TokenState.ACTIVE and token.token_ref == "tkn_1"
    assert token.pan_fingerprint == vault.pan_fingerprint(PAN)
    sealed = ProvisioningRequest.objects.values_list("wallet_payload", flat=True).get(pk=stored.pk)
    assert PAN not in sealed and "b3BhcXVl" not in sealed
    assert stored.wallet_payload == {"opaque_payment_card": "b3BhcXVl"}
    path = [(r.from_state, r.to_state) for r in TransitionLog.objects.filter(object_id=stored.pk)]
    assert path == [("eligible", "token_requested"), ("token_requested", "provisioned")]


@pytest.mark.django_db
def test_provision_call_uses_the_request_id_as_idempotency_key_and_carries_the_card():
    request = ProvisioningRequestFactory(state=State.ELIGIBLE)
    services.request_token(request.pk)
    (call,) = StubTokenService.provision_calls
    assert call.request_id == str(request.pk)
    assert call.card["pan"] == PAN
    assert PAN not in repr(call)


@pytest.mark.django_db
def test_yellow_decision_requires_step_up_with_an_inactive_token():
    StubTokenService.decision = Decision("yellow", "tkn_2", "INACTIVE", "0010", "12/29", None)
    request = ProvisioningRequestFactory(state=State.ELIGIBLE, customer_msisdn="+254700000100")
    services.request_token(request.pk)
    assert _state(request) == State.STEP_UP_REQUIRED
    assert Token.objects.get(token_ref="tkn_2").state == TokenState.INACTIVE


@pytest.mark.django_db
def test_yellow_for_a_customer_with_no_number_on_file_ends_at_once_and_drops_the_token(
        django_capture_on_commit_callbacks):
    from notifications.models import Notification

    StubTokenService.decision = Decision("yellow", "tkn_3", "INACTIVE", "0010", "12/29", None)
    request = ProvisioningRequestFactory(state=State.ELIGIBLE, customer_id="cust_no_number",
                                         customer_msisdn="")
    with django_capture_on_commit_callbacks(execute=False):
        services.request_token(request.pk)
    stored = ProvisioningRequest.objects.get(pk=request.pk)
    assert (stored.state, stored.failure_code) == (State.DECLINED, "step_up_no_number")
    assert stored.otp_hash == ""
    assert not Notification.objects.filter(object_id=request.pk,
                                           template_key="step_up_code").exists()
    # The inactive token is deleted at the token service (a worker call, enqueued).
    assert Token.objects.get(token_ref="tkn_3").operations_requested == 1
    path = [(r.from_state, r.to_state, r.reason) for r in TransitionLog.objects.filter(
        object_id=stored.pk, machine="provisioning_request")]
    assert path[-2:] == [("token_requested", "step_up_required", "token_service_yellow"),
                         ("step_up_required", "declined", "step_up_no_number")]


@pytest.mark.django_db
def test_red_decision_declines_with_a_code():
    StubTokenService.decision = Decision("red", None, None, reason="risk_declined")
    request = ProvisioningRequestFactory(state=State.ELIGIBLE)
    services.request_token(request.pk)
    stored = ProvisioningRequest.objects.get(pk=request.pk)
    assert stored.state == State.DECLINED
    assert stored.failure_code == "token_service_declined"
    assert not Token.objects.exists()


@pytest.mark.django_db
def test_pending_decision_leaves_request_in_token_requested():
    StubTokenService.decision = Decision("pending")
    request = ProvisioningRequestFactory(state=State.ELIGIBLE)
    services.request_token(request.pk)
    assert _state(request) == State.TOKEN_REQUESTED


@pytest.mark.django_db
def test_a_decision_applied_twice_acts_once():
    request = ProvisioningRequestFactory(state=State.TOKEN_REQUESTED)
    decision = Decision("green", "tkn_3", "ACTIVE", "1234", "12/29", None)
    assert services.apply_decision(request.pk, decision, by=Trigger.WEBHOOK) is True
    assert services.apply_decision(request.pk, decision, by=Trigger.BEAT) is False
    assert Token.objects.filter(token_ref="tkn_3").count() == 1
    assert TransitionLog.objects.filter(object_id=request.pk).count() == 1


@pytest.mark.django_db
def test_transient_failure_schedules_a_retry_until_attempts_are_spent(settings):
    settings.OUTSIDE_MAX_ATTEMPTS = 3
    StubTokenService.decision = OutsideTimeout("token_service_timeout", system="token_service")
    request = ProvisioningRequestFactory(state=State.ELIGIBLE)
    delays = []
    for _ in range(3):
        with pytest.raises(TransientError) as caught:
            services.request_token(request.pk)
        delays.append(services.handle_transient_failure(request.pk, caught.value))
    assert all(d is not None and d > 0 for d in delays[:2])
    assert delays[2] is None
    stored = ProvisioningRequest.objects.get(pk=request.pk)
    assert stored.state == State.FAILED
    assert stored.failure_code == "token_service_timeout"


@pytest.mark.django_db
def test_permanent_issuer_error_fails_with_its_code():
    StubIssuer.eligibility = PermanentError("card_not_found", system="issuer", status=404)
    request = ProvisioningRequestFactory(state=State.RECEIVED)
    with pytest.raises(PermanentError) as caught:
        services.check_eligibility(request.pk)
    services.handle_permanent_failure(request.pk, caught.value)
    stored = ProvisioningRequest.objects.get(pk=request.pk)
    assert (stored.state, stored.failure_code) == (State.FAILED, "card_not_found")


@pytest.mark.django_db
def test_fail_in_a_terminal_state_is_a_logged_no_op():
    request = ProvisioningRequestFactory(state=State.PROVISIONED)
    assert services.fail_request(request.pk, "late_timeout") is False
    assert _state(request) == State.PROVISIONED


def test_retry_delay_grows_and_stays_under_the_cap(settings):
    settings.OUTSIDE_RETRY_BASE_SECONDS = 1.0
    settings.OUTSIDE_RETRY_MAX_SECONDS = 8.0
    for attempts in range(1, 12):
        delay = backoff.outside_retry_delay(attempts)
        assert 0.5 <= delay <= min(8.0, 2 ** (attempts - 1))


@pytest.mark.django_db
def test_redrive_claims_only_due_requests_and_pushes_their_due_time(settings):
    now = timezone.now()
    due = ProvisioningRequestFactory(state=State.RECEIVED, due_at=now - timedelta(seconds=5))
    not_yet = ProvisioningRequestFactory(state=State.RECEIVED, due_at=now + timedelta(hours=1))
    done = ProvisioningRequestFactory(state=State.PROVISIONED, due_at=None)
    counts = sweeps.redrive_due_requests()
    assert counts == {"redriven": 1, "failed": 0}
    stored = ProvisioningRequest.objects.get(pk=due.pk)
    assert stored.redrives == 1 and stored.due_at > now
    assert ProvisioningRequest.objects.get(pk=not_yet.pk).redrives == 0
    assert ProvisioningRequest.objects.get(pk=done.pk).redrives == 0


@pytest.mark.django_db
def test_redrive_fails_a_request_that_never_moves(settings):
    settings.MAX_REDRIVES = 2
    request = ProvisioningRequestFactory(state=State.ELIGIBLE, redrives=2,
                                         due_at=timezone.now() - timedelta(seconds=1))
    assert sweeps.redrive_due_requests()["failed"] == 1
    stored = ProvisioningRequest.objects.get(pk=request.pk)
    assert (stored.state, stored.failure_code) == (State.FAILED, "redrive_limit_reached")
    assert TransitionLog.objects.get(object_id=request.pk).trigger == Trigger.BEAT


@pytest.mark.django_db
def test_operations_retry_puts_a_failed_request_back_to_received():
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("ops1", password="x" * 12)
    request = ProvisioningRequestFactory(state=State.FAILED, failure_code="issuer_timeout")
    services.retry_failed_request(request.pk, actor=user)
    stored = ProvisioningRequest.objects.get(pk=request.pk)
    assert stored.state == State.RECEIVED and stored.failure_code == ""
    row = TransitionLog.objects.get(object_id=request.pk)
    assert (row.trigger, row.actor) == (Trigger.ADMIN, "ops1")


@pytest.mark.django_db
def test_expired_wallet_payload_is_erased_and_the_api_says_why(api_client, customer_id):
    request = ProvisioningRequestFactory(customer_id=customer_id, state=State.PROVISIONED)
    request.wallet_payload = {"opaque_payment_card": "c2VjcmV0"}
    request.wallet_payload_expires_at = timezone.now() - timedelta(seconds=1)
    request.save()
    fresh = ProvisioningRequestFactory(customer_id=customer_id, state=State.PROVISIONED)
    fresh.wallet_payload = {"opaque_payment_card": "c3RpbGw="}
    fresh.wallet_payload_expires_at = timezone.now() + timedelta(minutes=5)
    fresh.save()
    assert sweeps.erase_expired_wallet_payloads() == 1
    data = api_client.get(f"/api/v1/provisioning-requests/{request.pk}").json()
    assert data["wallet_payload"] is None
    assert data["wallet_payload_status"] == "expired"
    kept = api_client.get(f"/api/v1/provisioning-requests/{fresh.pk}").json()
    assert kept["wallet_payload"] == {"opaque_payment_card": "c3RpbGw="}
    assert kept["wallet_payload_status"] == "available"


@pytest.mark.django_db
def test_same_pan_under_another_card_id_is_refused_by_fingerprint():
    from tests.factories import TokenFactory

    existing = TokenFactory(card_id="card_old_id", pan_fingerprint=vault.pan_fingerprint(PAN),
                            state=TokenState.ACTIVE)
    request = ProvisioningRequestFactory(state=State.ELIGIBLE, card_id="card_new_id",
                                         wallet=existing.wallet, device_id=existing.device_id)
    services.request_token(request.pk)
    stored = ProvisioningRequest.objects.get(pk=request.pk)
    assert (stored.state, stored.failure_code) == (State.FAILED, "already_provisioned")
    assert StubTokenService.provision_calls == []
