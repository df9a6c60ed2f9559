"""Faults injected into the Payouts stand-in (errors, timeouts, lost answers), its call
counters and reset."""

from __future__ import annotations

import time

pytestmark = []


def test_an_injected_error_pays_nothing(vd):
    vd.client.post("/sandbox/faults", json={"system": "payouts", "error_rate": 1})

    response = vd.payout("tr_22")

    assert response.status_code == 503
    vd.client.delete("/sandbox/faults")
    assert vd.status_of("tr_22") is None
    assert vd.stats()["payouts"]["made"] == 0


def test_an_injected_timeout_pays_after_the_caller_gave_up(vd):
    vd.client.post("/sandbox/faults", json={"system": "payouts", "timeout_rate": 1})

    started = time.monotonic()
    response = vd.payout("tr_23")

    assert time.monotonic() - started >= 0.3
    assert response.status_code == 201
    assert vd.stats()["faults"]["injected_timeouts"] == {"payouts": 1}


def test_a_lost_answer_pays_and_the_status_read_finds_it(vd):
    vd.client.post("/sandbox/faults", json={"system": "payouts", "lost_answer_rate": 1})

    lost = vd.payout("tr_24")

    assert lost.status_code == 504
    assert lost.json()["error"]["code"] == "answer_lost"
    vd.client.delete("/sandbox/faults")
    assert vd.status_of("tr_24") == "ACCEPTED"
    again = vd.payout("tr_24")
    assert again.headers["Idempotent-Replayed"] == "true"
    stats = vd.stats()
    assert stats["payouts"]["made"] == 1
    assert stats["faults"]["injected_lost_answers"] == {"payouts": 1}


def test_a_lost_answer_is_listed_as_a_fault(vd):
    vd.client.post(
        "/sandbox/faults", json={"system": "payouts", "error_rate": 0.1, "lost_answer_rate": 0.05}
    )

    faults = vd.client.get("/sandbox/faults").json()["faults"]

    assert faults["payouts"] == {
        "error_rate": 0.1,
        "latency_ms": 0,
        "timeout_rate": 0.0,
        "lost_answer_rate": 0.05,
    }


def test_payout_calls_are_counted_per_operation(vd):
    payout = vd.payout("tr_25").json()
    vd.search("tr_25")
    vd.transaction(payout["id"])

    assert vd.stats()["calls"]["payouts"] == {"payout": 1, "search": 1, "transaction": 1}


def test_reset_forgets_payouts(vd):
    vd.payout("tr_26")

    vd.client.post("/sandbox/reset")

    assert vd.status_of("tr_26") is None
    assert vd.stats()["payouts"]["made"] == 0
