"""The demo's money check (scripts/demo_transfers.py): a transfer passes only when its
customer's balance moved by exactly what its outcome says and the network agrees."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from demo_transfers import TRANSFER_SCENARIOS, TrackedTransfer, problems_of  # noqa: E402

SCENARIOS = {s.name: s for s in TRANSFER_SCENARIOS}
TOTAL = 154_000


def finished(name: str, state: str, *, after: int, held: int = 0, failure: str | None = None):
    item = TrackedTransfer(SCENARIOS[name], "cust_x", transfer_id="t1", state=state,
                           total=TOTAL, balance_before={"balance": 1_000_000, "held": 0},
                           balance_after={"balance": after, "held": held})
    item.resource = {"failure": {"code": failure}} if failure else {}
    return item


PAID = {"t1": {"status": "ACCEPTED"}}
DECLINED = {"t1": {"status": "DECLINED"}}


def test_a_completed_send_that_took_amount_plus_fee_passes():
    assert problems_of(finished("send_completed", "completed", after=1_000_000 - TOTAL),
                       PAID) == []


def test_a_completed_send_that_took_the_money_twice_fails():
    problems = problems_of(finished("send_completed", "completed",
                                    after=1_000_000 - 2 * TOTAL), PAID)
    assert any("balance" in p for p in problems)


def test_a_declined_send_whose_money_did_not_come_back_fails():
    item = finished("send_declined", "declined", after=1_000_000 - TOTAL,
                    failure="declined_by_network")
    assert any("balance" in p for p in problems_of(item, DECLINED))


def test_money_left_held_fails_even_when_the_balance_is_right():
    item = finished("send_declined", "declined", after=1_000_000, held=TOTAL,
                    failure="declined_by_network")
    assert any("held" in p for p in problems_of(item, DECLINED))


@pytest.mark.parametrize("payouts", [PAID, {}])
def test_the_network_must_have_paid_if_and_only_if_the_transfer_completed(payouts):
    declined = finished("send_declined", "declined", after=1_000_000,
                        failure="declined_by_network")
    completed = finished("send_completed", "completed", after=1_000_000 - TOTAL)
    found = problems_of(declined, payouts) + problems_of(completed, payouts)
    assert any("network" in p for p in found)
