"""Issuer host stand-in: eligibility by card status, card data, ownership and auth."""

from __future__ import annotations

import pytest

pytestmark = []


@pytest.fixture
def issuer(client, keys):
    def post(path, body, api_key=None):
        token = api_key or keys["issuer_api_key"]
        return client.post(
            f"/issuer{path}", json=body, headers={"Authorization": f"Bearer {token}"}
        )

    return post


def eligibility_body(card_id, customer_id="cust_demo"):
    return {
        "card_id": card_id,
        "customer_id": customer_id,
        "wallet": "google_pay",
        "device_id": "dev_1",
    }


def test_active_card_is_eligible_with_card_and_customer_details(issuer):
    response = issuer("/v1/eligibility", eligibility_body("card_green"))

    assert response.status_code == 200
    assert response.json() == {
        "decision": "eligible",
        "reason": None,
        "card": {
            "last4": "1111",
            "expiry_month": 12,
            "expiry_year": 2030,
            "product": "visa_prepaid",
        },
        "customer": {"msisdn": "+254700000100", "kyc_tier": "tier_2"},
    }


@pytest.mark.parametrize(
    ("card_id", "reason"), [("card_blocked", "card_blocked"), ("card_expired", "card_expired")]
)
def test_blocked_or_expired_card_is_ineligible_with_reason(issuer, card_id, reason):
    body = issuer("/v1/eligibility", eligibility_body(card_id)).json()

    assert (body["decision"], body["reason"]) == ("ineligible", reason)


@pytest.mark.parametrize("card_id", ["card_other", "card_unknown"])
def test_someone_elses_or_unknown_card_is_card_not_found(issuer, card_id):
    response = issuer("/v1/eligibility", eligibility_body(card_id))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "card_not_found"


def test_wrong_bearer_key_is_401(issuer):
    response = issuer("/v1/eligibility", eligibility_body("card_green"), api_key="iss_wrong")

    assert response.status_code == 401


def test_unknown_wallet_is_400(issuer):
    response = issuer("/v1/eligibility", {**eligibility_body("card_green"), "wallet": "paypal"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_card_data_returns_pan_and_expiry_for_the_owner(issuer):
    response = issuer("/v1/cards/card_green/card-data", {"customer_id": "cust_demo"})

    assert response.json() == {
        "pan": "4111111111111111",
        "expiry_month": 12,
        "expiry_year": 2030,
        "cardholder_name": "AMINA WANJIRU",
    }


def test_card_data_of_another_customers_card_is_404(issuer):
    response = issuer("/v1/cards/card_green/card-data", {"customer_id": "cust_other"})

    assert response.status_code == 404
    assert "4111111111111111" not in response.text
