"""Every sandbox outcome end to end: API over HTTP → live Celery worker → sandbox over HTTP
(→ signed webhook back to the live server) → terminal state, with effects counted."""

from __future__ import annotations

import pytest

from core.models import TransitionLog

from provisioning.models import ProvisioningRequest
from tokens.models import Token

pytestmark = [pytest.mark.integration, pytest.mark.embedded]


def _path(request_id) -> list[tuple[str, str, str]]:
    return [(row.from_state, row.to_state, row.trigger)
            for row in TransitionLog.objects.filter(machine="provisioning_request",
                                                    object_id=request_id).order_by("id")]


def _no_duplicate_effects(stack):
    stats = stack.sandbox_stats()
    assert stats["idempotency"]["duplicate_effects"] == 0
    assert stats["idempotency"]["request_ids_with_multiple_tokens"] == {}
    assert stats["signature_failures"] == 0
    assert stats["jwe_failures"] == 0
    return stats


def test_green_card_is_provisioned_with_an_active_token_and_wallet_payload(stack):
    created = stack.create("card_green")
    assert created["state"] == "received"
    stack.wait_terminal(created["id"])
    data = stack.read(created["id"])
    assert data["state"] == "provisioned"
    assert data["card_last4"] == "1111"
    assert data["token"]["state"] == "active"
    assert set(data["wallet_payload"]) == {"opaque_payment_card"}
    assert _path(created["id"]) == [("received", "eligible", "worker"),
                                    ("eligible", "token_requested", "worker"),
                                    ("token_requested", "provisioned", "worker")]
    stats = _no_duplicate_effects(stack)
    assert stats["idempotency"]["by_key"][created["id"]]["calls"] == 1


def test_apple_pay_push_returns_the_apple_wallet_payload(stack):
    apple = {"certificates": ["MIIBAAAA", "MIICAAAA"], "nonce": "q83vEg==",
             "nonce_signature": "c2lnbmF0dXJl"}
    created = stack.create("card_green", wallet="apple_pay", apple=apple)
    stack.wait_terminal(created["id"])
    data = stack.read(created["id"])
    assert data["state"] == "provisioned"
    assert set(data["wallet_payload"]) == {"encrypted_pass_data", "activation_data",
                                           "ephemeral_public_key"}


def test_red_card_is_declined(stack):
    created = stack.create("card_declined", wallet="samsung_pay")
    stack.wait_terminal(created["id"])
    data = stack.read(created["id"])
    assert data["state"] == "declined"
    assert data["failure"]["code"] == "declined_by_issuer"
    assert ProvisioningRequest.objects.get(pk=created["id"]).failure_code == \
        "token_service_declined"
    assert data["token"] is None and data["wallet_payload"] is None
    _no_duplicate_effects(stack)


def test_yellow_card_waits_for_step_up_with_an_inactive_token(stack):
    created = stack.create("card_stepup")
    stack.wait_for_state(created["id"], "step_up_required")
    data = stack.read(created["id"])
    assert data["token"]["state"] == "inactive"
    assert data["wallet_payload"] is None
    _no_duplicate_effects(stack)


def test_token_service_503_twice_then_green_is_provisioned_after_retries(stack):
    created = stack.create("card_flaky")
    stack.wait_terminal(created["id"])
    assert stack.read(created["id"])["state"] == "provisioned"
    stats = _no_duplicate_effects(stack)
    assert stats["calls"]["token_service"]["provision"] == 3
    assert Token.objects.filter(provisioning_request_id=created["id"]).count() == 1


def test_late_decision_arrives_by_signed_webhook(stack):
    created = stack.create("card_late")
    stack.wait_terminal(created["id"])
    assert stack.read(created["id"])["state"] == "provisioned"
    assert _path(created["id"])[-1] == ("token_requested", "provisioned", "webhook")
    assert stack.sandbox_stats()["webhooks"]["sent"] == 1
    _no_duplicate_effects(stack)


def test_token_service_that_never_answers_fails_the_request_with_a_timeout_code(stack, settings):
    created = stack.create("card_slow")
    stack.wait_terminal(created["id"], timeout=60)
    data = stack.read(created["id"])
    assert data["state"] == "failed"
    assert data["failure"]["code"] == "try_again_later"
    row = ProvisioningRequest.objects.get(pk=created["id"])
    assert row.failure_code == "token_service_timeout"
    _no_duplicate_effects(stack)


@pytest.mark.parametrize("card_id,reason", [("card_blocked", "card_blocked"),
                                            ("card_expired", "card_expired")])
def test_ineligible_card_ends_ineligible_without_calling_the_token_service(stack, card_id, reason):
    created = stack.create(card_id)
    stack.wait_terminal(created["id"])
    data = stack.read(created["id"])
    assert data["state"] == "ineligible"
    assert data["failure"]["code"] == "declined_by_issuer"
    assert ProvisioningRequest.objects.get(pk=created["id"]).failure_code == reason
    assert not stack.sandbox_stats()["calls"].get("token_service")


def test_another_customers_card_fails_with_card_not_found(stack):
    created = stack.create("card_other")
    stack.wait_terminal(created["id"])
    data = stack.read(created["id"])
    assert (data["state"], data["failure"]["code"]) == ("failed", "contact_support")
    assert ProvisioningRequest.objects.get(pk=created["id"]).failure_code == "card_not_found"


def test_another_customer_cannot_read_the_request(stack):
    created = stack.create("card_green")
    response = stack.client("cust_other").get(
        f"{stack.api}/api/v1/provisioning-requests/{created['id']}", timeout=10)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    stack.wait_terminal(created["id"])
