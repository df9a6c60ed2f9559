"""What the sandbox can know of the money rule: for each payout, the M-Pesa hold of the same
reference captured when it was paid, released when it was not, settled exactly once."""

from __future__ import annotations

import pytest

pytestmark = []


@pytest.fixture
def funded(vd):
    vd.set_balance("cust_demo", 1_000_000)
    return vd


def _hold(vd, reference, amount=150_000):
    return vd.hold(f"{reference}:hold", amount=amount, fee=2_500, reference=reference).json()[
        "hold_id"
    ]


def _rule(vd):
    return vd.stats()["money_rule"]


def test_a_paid_payout_with_its_hold_captured_keeps_the_rule(funded):
    hold_id = _hold(funded, "tr_1")
    funded.payout("tr_1", amount="1500.00")
    funded.capture(hold_id, "tr_1:capture")

    rule = _rule(funded)

    assert rule["ok"] is True
    assert rule["violations"] == {
        "paid_but_released": [],
        "declined_but_captured": [],
        "paid_without_hold": [],
        "captured_without_payout": [],
        "settled_before_outcome": [],
        "amount_mismatch": [],
    }
    assert rule["awaiting_settlement"] == {"paid_hold_open": [], "declined_hold_open": []}


def test_a_declined_payout_with_its_hold_released_keeps_the_rule(funded, recipient_pans):
    hold_id = _hold(funded, "tr_2")
    funded.payout("tr_2", recipient_pans["declined"])
    funded.release(hold_id, "tr_2:release")

    assert _rule(funded)["ok"] is True


def test_releasing_the_hold_of_a_paid_payout_breaks_the_rule(funded):
    hold_id = _hold(funded, "tr_3")
    funded.payout("tr_3")
    funded.release(hold_id, "tr_3:release")

    rule = _rule(funded)

    assert rule["ok"] is False
    assert rule["violations"]["paid_but_released"] == ["tr_3"]


@pytest.mark.parametrize("recipient,violation", [
    ("declined", "declined_but_captured"),  # capturing the hold of a declined payout
    ("pending", "settled_before_outcome"),  # settling before the network has answered
])
def test_capturing_the_hold_of_a_payout_not_paid_breaks_the_rule(funded, recipient_pans,
                                                                recipient, violation):
    hold_id = _hold(funded, "tr_4")
    funded.payout("tr_4", recipient_pans[recipient])
    funded.capture(hold_id, "tr_4:capture")

    assert _rule(funded)["violations"][violation] == ["tr_4"]


def test_a_capture_without_a_payout_breaks_the_rule(funded):
    hold_id = _hold(funded, "tr_5")
    funded.capture(hold_id, "tr_5:capture")

    assert _rule(funded)["violations"]["captured_without_payout"] == ["tr_5"]


def test_a_payout_without_a_hold_breaks_the_rule(funded):
    funded.payout("tr_6")

    assert _rule(funded)["violations"]["paid_without_hold"] == ["tr_6"]


def test_a_payout_of_another_amount_than_held_breaks_the_rule(funded):
    hold_id = _hold(funded, "tr_8", amount=150_000)
    funded.payout("tr_8", amount="1400.00")
    funded.capture(hold_id, "tr_8:capture")

    assert _rule(funded)["violations"]["amount_mismatch"] == ["tr_8"]


def test_holds_not_yet_settled_are_listed_as_awaiting(funded, recipient_pans):
    _hold(funded, "tr_9")
    _hold(funded, "tr_10")
    funded.payout("tr_9")
    funded.payout("tr_10", recipient_pans["declined"])

    rule = _rule(funded)

    assert rule["ok"] is True
    assert rule["awaiting_settlement"] == {
        "paid_hold_open": ["tr_9"],
        "declined_hold_open": ["tr_10"],
    }
