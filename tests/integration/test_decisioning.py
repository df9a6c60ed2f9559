"""Issuer decisioning on the live stack: a SIM swapped an hour ago, or a swap date the telco
cannot give, declines the push before the token service is asked and before any code is
sent (an SMS code would reach whoever holds the swapped SIM); operations can tune the
decline window."""

from __future__ import annotations

import re
import uuid

import pytest
import requests

from decisioning.models import DecisionRule, RuleResult
from provisioning.models import ProvisioningRequest
from tests.live import luhn_pan, wait_until

pytestmark = [pytest.mark.integration]
SWAPPED_MSISDN = "+254700000101"  # the sandbox telco: swapped an hour ago
TELCO_DOWN_MSISDN = "+254700000103"  # the sandbox telco: 503


def customer_with_card(stack, msisdn: str, last4: str = "4242") -> tuple[str, str]:
    customer = f"cust_swap_{uuid.uuid4().hex[:8]}"
    response = stack.sandbox_post("/sandbox/cards", {
        "customer_id": customer, "pan": luhn_pan(last4), "expiry": "12/30", "status": "active",
        "msisdn": msisdn, "cardholder_name": "SWAPPED SIM"})
    assert response.status_code == 201, response.text
    return customer, response.json()["card_id"]


def inbox(stack, msisdn: str) -> list[dict]:
    return requests.get(f"{stack.sandbox}/sandbox/messages", params={"to": msisdn},
                        timeout=5).json()["messages"]


def test_recent_sim_swap_declines_the_push_and_no_code_is_ever_sent(stack):
    customer, card_id = customer_with_card(stack, SWAPPED_MSISDN)
    created = stack.create(card_id, customer_id=customer)
    stack.wait_terminal(created["id"])
    data = stack.read(created["id"], customer_id=customer)
    assert data["state"] == "ineligible"
    assert data["failure"]["code"] == "declined_by_issuer"
    assert "sim" not in str(data).lower()
    row = ProvisioningRequest.objects.get(pk=created["id"])
    assert row.failure_code == "sim_swap_recent"
    result = RuleResult.objects.get(request_id=created["id"], rule_key="sim-swap")
    assert (result.outcome, result.reason_code) == ("red", "sim_swap_recent")
    assert 0.5 < result.inputs["last_swap_hours"] < 1.5
    assert not stack.sandbox_stats()["calls"].get("token_service")
    # The customer is told, without being told which control fired; no code ever went out.
    [message] = wait_until(lambda: inbox(stack, SWAPPED_MSISDN), timeout=20,
                           message="the ineligible message")
    assert "cannot be added" in message["body"]
    assert "sim" not in message["body"].lower() and "swap" not in message["body"].lower()
    assert not re.search(r"\b\d{6}\b", message["body"])
    assert len(inbox(stack, SWAPPED_MSISDN)) == 1


def test_a_decline_window_operations_shortened_lets_an_older_swap_through(stack):
    DecisionRule.objects.filter(key="sim-swap").update(
        params={"decline_within_hours": 0.5, "on_lookup_failure": "red"})
    customer, card_id = customer_with_card(stack, SWAPPED_MSISDN)
    created = stack.create(card_id, customer_id=customer)
    assert stack.wait_terminal(created["id"]).state == "provisioned"


def test_telco_down_declines_never_passes_silently_nor_steps_up(stack):
    customer, card_id = customer_with_card(stack, TELCO_DOWN_MSISDN, last4="4343")
    created = stack.create(card_id, customer_id=customer)
    stack.wait_terminal(created["id"])
    row = ProvisioningRequest.objects.get(pk=created["id"])
    assert (row.state, row.failure_code) == ("ineligible", "sim_swap_unknown")
    assert stack.read(created["id"], customer_id=customer)["failure"]["code"] == \
        "declined_by_issuer"
    assert not stack.sandbox_stats()["calls"].get("token_service")
