"""M-Pesa core ledger stand-in: holds of amount + fee, captured or released exactly once
(validation, account controls, faults and stats: test_sandbox_mpesa_accounts.py)."""

from __future__ import annotations

import pytest

pytestmark = []


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


@pytest.mark.parametrize("settled_by,then,code,balance", [
    ("release", "capture", "hold_released", 1_000_000),
    ("capture", "release", "hold_captured", 1_000_000 - 152_500),
], ids=["capture_of_a_released_hold", "release_of_a_captured_hold"])
def test_settling_a_hold_the_other_way_after_it_settled_is_409(funded, settled_by, then, code,
                                                                balance):
    hold_id = funded.hold("tr_1:hold").json()["hold_id"]
    getattr(funded, settled_by)(hold_id, f"tr_1:{settled_by}")

    response = getattr(funded, then)(hold_id, f"tr_1:{then}")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == code
    assert funded.account("cust_demo")["balance"] == balance


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
