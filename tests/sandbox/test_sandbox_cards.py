"""Sandbox cards: the seeded set, adding cards, and that a PAN never comes back."""

from __future__ import annotations

import pytest

from sandbox.cards import DEFAULT_CARDS, luhn_valid

pytestmark = []

SEEDED = {
    # card id: (customer, last four, status)
    "card_green": ("cust_demo", "1111", "active"),
    "card_declined": ("cust_demo", "0002", "active"),
    "card_stepup": ("cust_demo", "0010", "active"),
    "card_flaky": ("cust_demo", "0028", "active"),
    "card_late": ("cust_demo", "0036", "active"),
    "card_slow": ("cust_demo", "0044", "active"),
    "card_blocked": ("cust_demo", "0069", "blocked"),
    "card_expired": ("cust_demo", "0077", "expired"),
    "card_other": ("cust_other", "0085", "active"),
}


@pytest.mark.parametrize("card", DEFAULT_CARDS, ids=lambda card: card.card_id)
def test_every_seeded_pan_is_a_luhn_valid_16_digit_visa(card):
    assert card.pan.startswith("4") and len(card.pan) == 16
    assert luhn_valid(card.pan)


def test_seeded_cards_match_the_documented_table(client):
    listed = client.get("/sandbox/cards").json()["cards"]

    assert {c["card_id"]: (c["customer_id"], c["last4"], c["status"]) for c in listed} == SEEDED


def test_card_list_filters_by_customer_and_shows_no_pan(client):
    response = client.get("/sandbox/cards", params={"customer_id": "cust_other"})

    assert [c["card_id"] for c in response.json()["cards"]] == ["card_other"]
    assert "4000000000000085" not in response.text
    assert "pan" not in response.json()["cards"][0]


def test_new_card_is_created_and_listed_for_its_customer(client):
    response = client.post(
        "/sandbox/cards",
        json={
            "customer_id": "cust_new",
            "pan": "4242424242424242",
            "expiry": "08/31",
            "status": "active",
            "msisdn": "+254700000999",
        },
    )

    assert response.status_code == 201
    card_id = response.json()["card_id"]
    listed = client.get("/sandbox/cards", params={"customer_id": "cust_new"}).json()["cards"]
    assert listed == [
        {
            "card_id": card_id,
            "customer_id": "cust_new",
            "last4": "4242",
            "expiry": "08/31",
            "status": "active",
            "cardholder_name": "SANDBOX CARDHOLDER",
        }
    ]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"pan": "4242424242424241"}, "invalid_pan"),  # fails Luhn
        ({"pan": "424242424242"}, "invalid_pan"),  # 12 digits
        ({"pan": "42424242424242424242"}, "invalid_pan"),  # 20 digits
        ({"pan": "4242-4242-4242-4242"}, "invalid_pan"),
        ({"expiry": "13/30"}, "invalid_expiry"),
        ({"expiry": "12/2030"}, "invalid_expiry"),
        ({"status": "frozen"}, "invalid_status"),
        ({"customer_id": ""}, "invalid_customer_id"),
        ({"msisdn": "0700000100"}, "invalid_msisdn"),
    ],
)
def test_invalid_card_is_refused_with_a_coded_400(client, change, code):
    body = {
        "customer_id": "cust_x",
        "pan": "4242424242424242",
        "expiry": "08/31",
        "status": "active",
    }

    response = client.post("/sandbox/cards", json={**body, **change})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


def test_seeding_can_be_switched_off(make_client):
    client = make_client(SANDBOX_SEED="0")

    assert client.get("/sandbox/cards").json() == {"cards": []}
