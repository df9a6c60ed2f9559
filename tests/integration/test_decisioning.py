"""Issuer decisioning on the live stack: a SIM swapped an hour ago steps the push up even
though the token service says green; configured to decline, it ends ineligible."""

from __future__ import annotations

import uuid

import pytest

from decisioning.models import DecisionRule, RuleResult
from provisioning.models import ProvisioningRequest
from tests.live import luhn_pan

pytestmark = [pytest.mark.integration]


def swapped_customer(stack) -> tuple[str, str]:
    """A customer whose number ends 01 (the sandbox telco: swapped an hour ago)."""
    customer = f"cust_swap_{uuid.uuid4().hex[:8]}"
    response = stack.sandbox_post("/sandbox/cards", {
        "customer_id": customer, "pan": luhn_pan("4242"), "expiry": "12/30", "status": "active",
        "msisdn": "+254700000101", "cardholder_name": "SWAPPED SIM"})
    assert response.status_code == 201, response.text
    return customer, response.json()["card_id"]


def test_recent_sim_swap_steps_up_a_push_the_token_service_would_pass(stack):
    customer, card_id = swapped_customer(stack)
    created = stack.create(card_id, customer_id=customer)
    stack.wait_for_state(created["id"], "step_up_required")
    data = stack.read(created["id"], customer_id=customer)
    assert data["decision"] == {"outcome": "yellow", "reason_codes": ["sim_swap_recent"]}
    assert data["token"]["state"] == "inactive"
    result = RuleResult.objects.get(request_id=created["id"], rule_key="sim-swap")
    assert (result.outcome, result.reason_code) == ("yellow", "sim_swap_recent")
    assert 0.5 < result.inputs["last_swap_hours"] < 1.5


def test_recent_sim_swap_is_declined_when_operations_configure_it(stack):
    rule = DecisionRule.objects.get(key="sim-swap")
    rule.params = {**rule.params, "decline_within_hours": 24}
    rule.save()
    customer, card_id = swapped_customer(stack)
    created = stack.create(card_id, customer_id=customer)
    stack.wait_terminal(created["id"])
    data = stack.read(created["id"], customer_id=customer)
    assert data["state"] == "ineligible"
    assert data["failure"]["code"] == "sim_swap_recent"
    assert not stack.sandbox_stats()["calls"].get("token_service")


def test_telco_down_steps_up_never_passes_silently(stack):
    customer = f"cust_telco_{uuid.uuid4().hex[:8]}"
    card = stack.sandbox_post("/sandbox/cards", {
        "customer_id": customer, "pan": luhn_pan("4343"), "expiry": "12/30", "status": "active",
        "msisdn": "+254700000103"}).json()["card_id"]
    created = stack.create(card, customer_id=customer)
    stack.wait_for_state(created["id"], "step_up_required")
    assert ProvisioningRequest.objects.get(pk=created["id"]).decision_reasons == [
        "sim_swap_unknown"]
