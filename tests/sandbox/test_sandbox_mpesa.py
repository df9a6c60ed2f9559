"""M-Pesa core ledger stand-in: holds of amount + fee, captured or released exactly once."""

from __future__ import annotations

import time

import pytest

pytestmark = []


VALID_HOLD = {
    "customer_id": "cust_demo",
    "amount": 1000,
    "fee": 0,
    "currency": "KES",
    "reference": "r",
}


@pytest.fixture
def funded(vd):
    """cust_demo with KES 10,000.00 and nothing held."""
    assert vd.set_balance("cust_demo", 1_000_000).status_code == 200
    return vd


def test_hold_takes_amount_and_fee_from_the_available_balance(funded):
    response = funded.hold("tr_1:hold", amount=150_000, fee=2_500, reference="tr_1")

    assert response.status_code == 201
    hold = response.json()
    assert hold["hold_id"].startswith("hold_")
    assert {k: hold[k] for k in ("customer_id", "amount", "fee", "total", "currency")} == {
        "customer_id": "cust_demo",
        "amount": 150_000,
        "fee": 2_500,
        "total": 152_500,
        "currency": "KES",
    }
    assert (hold["reference"], hold["status"]) == ("tr_1", "held")
    account = funded.account("cust_demo")
    assert (account["balance"], account["held"], account["available"]) == (
        1_000_000,
        152_500,
        847_500,
    )


def test_capture_takes_the_held_money_out_of_the_balance(funded):
    hold = funded.hold("tr_1:hold").json()

    response = funded.capture(hold["hold_id"], "tr_1:capture")

    assert response.status_code == 200
    assert response.json()["status"] == "captured"
    assert response.json()["captured_at"] is not None
    account = funded.account("cust_demo")
    assert (account["balance"], account["held"]) == (1_000_000 - 152_500, 0)


def test_release_gives_the_held_money_back(funded):
    hold = funded.hold("tr_1:hold").json()

    response = funded.release(hold["hold_id"], "tr_1:release")

    assert response.status_code == 200
    assert response.json()["status"] == "released"
    account = funded.account("cust_demo")
    assert (account["balance"], account["held"], account["available"]) == (1_000_000, 0, 1_000_000)


def test_insufficient_funds_is_refused_and_holds_nothing(funded):
    response = funded.hold("tr_big:hold", amount=999_000, fee=2_000)

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "insufficient_funds"
    assert error["details"] == {"available": 1_000_000, "required": 1_001_000}
    account = funded.account("cust_demo")
    assert (account["held"], account["available"]) == (0, 1_000_000)
    assert [op["type"] for op in account["operations"]] == ["set_balance", "set_balance"]
    assert funded.stats()["ledger"]["refusals"]["insufficient_funds"] == 1


def test_insufficient_funds_is_the_keys_answer_even_after_a_top_up(funded):
    funded.hold("tr_big:hold", amount=999_000, fee=2_000)
    funded.set_balance("cust_demo", 5_000_000)

    response = funded.hold("tr_big:hold", amount=999_000, fee=2_000)

    assert response.status_code == 422
    assert response.headers["Idempotent-Replayed"] == "true"
    assert funded.account("cust_demo")["held"] == 0


def test_holds_compete_for_the_same_available_balance(funded):
    first = funded.hold("tr_1:hold", amount=600_000, fee=0)
    second = funded.hold("tr_2:hold", amount=600_000, fee=0)

    assert (first.status_code, second.status_code) == (201, 422)


def test_same_key_and_body_replays_the_hold_without_a_second_one(funded):
    first = funded.hold("tr_1:hold")

    again = funded.hold("tr_1:hold")

    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert funded.account("cust_demo")["held"] == 152_500
    ledger = funded.stats()["ledger"]
    assert ledger["holds"]["open"] == 1
    assert ledger["idempotency"]["by_key"]["tr_1:hold"] == {
        "operation": "hold",
        "calls": 2,
        "replays": 1,
    }
    assert ledger["duplicate_effects"] == 0


def test_same_key_with_another_body_is_422_and_holds_nothing_more(funded):
    funded.hold("tr_1:hold", amount=150_000)

    response = funded.hold("tr_1:hold", amount=160_000)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert funded.account("cust_demo")["held"] == 152_500


def test_a_second_capture_under_another_key_replays_without_moving_money(funded):
    hold_id = funded.hold("tr_1:hold").json()["hold_id"]
    first = funded.capture(hold_id, "tr_1:capture")

    again = funded.capture(hold_id, "tr_1:capture:retry")

    assert again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert funded.account("cust_demo")["balance"] == 1_000_000 - 152_500
    ledger = funded.stats()["ledger"]
    assert ledger["repeated_settlements"] == {"capture": 1, "release": 0}
    assert ledger["duplicate_effects"] == 0


def test_a_second_release_replays_without_moving_money(funded):
    hold_id = funded.hold("tr_1:hold").json()["hold_id"]
    first = funded.release(hold_id, "tr_1:release")

    again = funded.release(hold_id, "tr_1:release")

    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert funded.account("cust_demo")["available"] == 1_000_000


def test_capture_of_a_released_hold_is_409(funded):
    hold_id = funded.hold("tr_1:hold").json()["hold_id"]
    funded.release(hold_id, "tr_1:release")

    response = funded.capture(hold_id, "tr_1:capture")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "hold_released"
    assert funded.account("cust_demo")["balance"] == 1_000_000


def test_release_of_a_captured_hold_is_409(funded):
    hold_id = funded.hold("tr_1:hold").json()["hold_id"]
    funded.capture(hold_id, "tr_1:capture")

    response = funded.release(hold_id, "tr_1:release")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "hold_captured"
    assert funded.account("cust_demo")["balance"] == 1_000_000 - 152_500


def test_a_hold_reads_as_it_stands_now(funded):
    hold_id = funded.hold("tr_1:hold").json()["hold_id"]
    funded.capture(hold_id, "tr_1:capture")

    response = funded.mpesa("GET", f"/v1/holds/{hold_id}")

    assert response.status_code == 200
    assert response.json()["status"] == "captured"


def test_an_unknown_hold_is_404(funded):
    for response in (
        funded.mpesa("GET", "/v1/holds/hold_nope"),
        funded.capture("hold_nope", "k1"),
        funded.release("hold_nope", "k2"),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "hold_not_found"


def test_holds_are_listed_by_reference(funded):
    funded.hold("tr_1:hold", reference="tr_1")
    funded.hold("tr_2:hold", reference="tr_2")

    response = funded.mpesa("GET", "/v1/holds?reference=tr_2")

    assert response.status_code == 200
    assert [h["reference"] for h in response.json()["holds"]] == ["tr_2"]


def test_listing_holds_needs_a_filter(funded):
    response = funded.mpesa("GET", "/v1/holds")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", 0),
        ("amount", -1),
        ("amount", 1.5),
        ("amount", 100.0),
        ("amount", "100"),
        ("amount", True),
        ("amount", None),
        ("amount", 10**13),
        ("fee", -1),
        ("fee", 0.5),
        ("fee", "25"),
    ],
)
def test_amounts_must_be_whole_minor_units(funded, field, value):
    body = dict(VALID_HOLD)
    body[field] = value

    response = funded.mpesa("POST", "/v1/holds", body, key=f"bad-{field}-{value!r}")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_amount"
    assert funded.account("cust_demo")["held"] == 0


@pytest.mark.parametrize("currency", ["USD", "kes", None, 404])
def test_the_currency_must_be_kes(funded, currency):
    response = funded.hold(f"cur-{currency}", currency=currency)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_currency"


@pytest.mark.parametrize("missing", ["customer_id", "reference"])
def test_customer_and_reference_are_required(funded, missing):
    body = dict(VALID_HOLD)
    del body[missing]

    response = funded.mpesa("POST", "/v1/holds", body, key=f"missing-{missing}")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_an_unknown_account_is_404_and_a_corrected_retry_goes_through(funded):
    first = funded.hold("tr_9:hold", customer_id="cust_new")
    funded.set_balance("cust_new", 500_000)

    second = funded.hold("tr_9:hold", customer_id="cust_new")

    assert first.status_code == 404
    assert first.json()["error"]["code"] == "account_not_found"
    assert second.status_code == 201


def test_a_wrong_bearer_key_is_401(funded):
    response = funded.mpesa("GET", "/v1/holds?reference=x", api_key="not-the-key")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_effectful_calls_need_an_idempotency_key(funded):
    body = dict(VALID_HOLD)

    response = funded.mpesa("POST", "/v1/holds", body)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "missing_idempotency_key"


def test_the_account_control_lists_every_operation(funded):
    first = funded.hold("tr_1:hold", reference="tr_1").json()["hold_id"]
    second = funded.hold("tr_2:hold", reference="tr_2").json()["hold_id"]
    funded.capture(first, "tr_1:capture")
    funded.release(second, "tr_2:release")

    account = funded.account("cust_demo")

    assert [(op["type"], op.get("reference")) for op in account["operations"]] == [
        ("set_balance", None),  # the seeded opening balance
        ("set_balance", None),  # the fixture's
        ("hold", "tr_1"),
        ("hold", "tr_2"),
        ("capture", "tr_1"),
        ("release", "tr_2"),
    ]
    assert account["operations"][-1]["balance_after"] == 1_000_000 - 152_500
    assert (account["balance"], account["held"]) == (1_000_000 - 152_500, 0)


def test_an_unknown_account_reads_404(vd):
    response = vd.client.get("/sandbox/mpesa/accounts/cust_nobody")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "account_not_found"


@pytest.mark.parametrize("balance", [-1, 1.5, "100", None, True])
def test_a_balance_must_be_a_non_negative_integer(vd, balance):
    response = vd.client.post(
        "/sandbox/mpesa/accounts", json={"customer_id": "cust_demo", "balance": balance}
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_amount"


def test_a_balance_below_what_is_held_is_409(funded):
    funded.hold("tr_1:hold", amount=500_000, fee=0)

    response = funded.set_balance("cust_demo", 400_000)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "balance_below_held"


def test_seeded_customers_have_an_account(vd):
    for customer_id in ("cust_demo", "cust_other"):
        account = vd.account(customer_id)
        assert account["balance"] > 0 and account["held"] == 0


def test_reset_forgets_holds_and_restores_the_seeded_accounts(funded):
    seeded = funded.account("cust_other")["balance"]
    funded.set_balance("cust_new", 10)
    funded.hold("tr_1:hold")

    funded.client.post("/sandbox/reset")

    assert funded.account("cust_other")["balance"] == seeded
    assert funded.client.get("/sandbox/mpesa/accounts/cust_new").status_code == 404
    assert funded.stats()["ledger"]["holds"] == {"open": 0, "captured": 0, "released": 0}


def test_an_injected_error_holds_nothing(funded):
    funded.client.post("/sandbox/faults", json={"system": "mpesa", "error_rate": 1})

    response = funded.hold("tr_1:hold")

    assert response.status_code == 503
    funded.client.delete("/sandbox/faults")
    assert funded.account("cust_demo")["held"] == 0


def test_a_lost_answer_holds_the_money_and_a_retry_replays_it(funded):
    funded.client.post("/sandbox/faults", json={"system": "mpesa", "lost_answer_rate": 1})

    started = time.monotonic()
    lost = funded.hold("tr_1:hold")

    assert time.monotonic() - started >= 0.3  # SANDBOX_SLOW_SECONDS in the fixtures
    assert lost.status_code == 504
    assert lost.json()["error"]["code"] == "answer_lost"
    assert funded.account("cust_demo")["held"] == 152_500
    funded.client.delete("/sandbox/faults")
    retry = funded.hold("tr_1:hold")
    assert retry.status_code == 201
    assert retry.headers["Idempotent-Replayed"] == "true"
    stats = funded.stats()
    assert stats["ledger"]["holds"]["open"] == 1
    assert stats["faults"]["injected_lost_answers"] == {"mpesa": 1}


def test_lost_answers_are_refused_for_systems_without_effects(vd):
    response = vd.client.post("/sandbox/faults", json={"system": "telco", "lost_answer_rate": 1})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_fault"


def test_ledger_stats_count_holds_money_and_calls(funded):
    captured = funded.hold("tr_1:hold", amount=100_000, fee=1_000).json()["hold_id"]
    released = funded.hold("tr_2:hold", amount=50_000, fee=500).json()["hold_id"]
    funded.hold("tr_3:hold", amount=20_000, fee=0)
    funded.capture(captured, "tr_1:capture")
    funded.release(released, "tr_2:release")

    stats = funded.stats()

    ledger = stats["ledger"]
    assert ledger["holds"] == {"open": 1, "captured": 1, "released": 1}
    assert ledger["amounts"] == {"held": 20_000, "captured": 101_000, "released": 50_500}
    assert ledger["conservation"] == {
        "ok": True,
        "holds_settled_more_than_once": [],
        "accounts_out_of_balance": [],
        "open_holds": [ledger["conservation"]["open_holds"][0]],
    }
    assert ledger["conservation"]["open_holds"][0]["reference"] == "tr_3:hold"
    assert stats["calls"]["mpesa"] == {"capture": 1, "hold": 3, "release": 1}
