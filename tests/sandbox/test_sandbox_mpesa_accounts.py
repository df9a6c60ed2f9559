"""M-Pesa ledger stand-in: what a hold must carry, the account controls, faults and
stats."""

from __future__ import annotations

import time

import pytest

from .visa_direct_driver import VALID_HOLD

pytestmark = []


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
