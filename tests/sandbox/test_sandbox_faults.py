"""Fault injection per system: 503s, latency, timeouts; and that they can be cleared."""

from __future__ import annotations

import time

import pytest

pytestmark = []


@pytest.fixture
def eligibility(client, keys):
    body = {
        "card_id": "card_green",
        "customer_id": "cust_demo",
        "wallet": "google_pay",
        "device_id": "dev_1",
    }
    headers = {"Authorization": f"Bearer {keys['issuer_api_key']}"}
    return lambda c=client: c.post("/issuer/v1/eligibility", json=body, headers=headers)


@pytest.fixture
def sim_swap(client, keys):
    headers = {"Authorization": f"Bearer {keys['issuer_api_key']}"}
    return lambda: client.get("/telco/v1/subscribers/+254700000100/sim-swap", headers=headers)


def test_error_rate_one_makes_every_call_503_for_that_system_only(client, eligibility, sim_swap):
    client.post("/sandbox/faults", json={"system": "issuer", "error_rate": 1})

    response = eligibility()

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"
    assert sim_swap().status_code == 200
    assert client.get("/sandbox/stats").json()["faults"]["injected_errors"] == {"issuer": 1}


def test_clearing_faults_restores_service(client, eligibility):
    client.post("/sandbox/faults", json={"system": "issuer", "error_rate": 1})

    assert client.delete("/sandbox/faults").json() == {"faults": {}}
    assert eligibility().status_code == 200


def test_faults_are_listed(client):
    client.post("/sandbox/faults", json={"system": "sms", "latency_ms": 5, "timeout_rate": 0.25})

    assert client.get("/sandbox/faults").json() == {
        "faults": {"sms": {"error_rate": 0.0, "latency_ms": 5, "timeout_rate": 0.25}}
    }


def test_latency_delays_the_answer(client, sim_swap):
    client.post("/sandbox/faults", json={"system": "telco", "latency_ms": 200})

    started = time.monotonic()
    response = sim_swap()

    assert response.status_code == 200
    assert time.monotonic() - started >= 0.2


def test_timeout_hangs_for_the_slow_period_then_answers(client, sim_swap):
    client.post("/sandbox/faults", json={"system": "telco", "timeout_rate": 1})

    started = time.monotonic()
    response = sim_swap()

    assert time.monotonic() - started >= 0.3  # SANDBOX_SLOW_SECONDS in the fixtures
    assert response.status_code == 200
    assert client.get("/sandbox/stats").json()["faults"]["injected_timeouts"] == {"telco": 1}


def test_token_service_fault_answers_before_the_signature_check(tms):
    tms.client.post("/sandbox/faults", json={"system": "token_service", "error_rate": 1})

    response = tms.provision("req_fault")

    assert response.status_code == 503
    assert tms.stats()["idempotency"]["keys"] == 0


@pytest.mark.parametrize(
    "fault",
    [
        {"system": "bank", "error_rate": 1},
        {"system": "sms", "error_rate": 1.5},
        {"system": "sms", "timeout_rate": -0.1},
        {"system": "sms", "latency_ms": 2.5},
        {"system": "sms", "error_rate": True},
    ],
)
def test_invalid_fault_is_400(client, fault):
    assert client.post("/sandbox/faults", json=fault).status_code == 400


def test_same_seed_gives_the_same_fault_sequence(make_client, eligibility):
    def outcomes():
        client = make_client()
        client.post("/sandbox/faults", json={"system": "issuer", "error_rate": 0.5})
        return [eligibility(client).status_code for _ in range(20)]

    first, second = outcomes(), outcomes()

    assert first == second
    assert {200, 503} == set(first)
