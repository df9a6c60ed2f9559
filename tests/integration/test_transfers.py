"""Visa Direct end to end: the API over HTTP → a live Celery worker → the sandbox's ledger,
attributes inquiry, screening and payouts over HTTP → a terminal state, with the money
rule proven from the sandbox's own ledger and payout counters."""

from __future__ import annotations

import uuid

import pytest
import requests

from core.models import TransitionLog
from devstack import luhn_pan, wait_until
from transfers.models import State, Transfer

pytestmark = [pytest.mark.integration, pytest.mark.embedded]

TERMINAL = {"completed", "declined", "rejected", "cancelled", "needs_attention"}
BALANCE = 5_000_000
AMOUNT = 150_000


class Visa:
    def __init__(self, stack, customer_id: str | None = None, balance: int = BALANCE):
        self.stack = stack
        self.customer_id = customer_id or f"cust_{uuid.uuid4().hex[:10]}"
        self.http = stack.client(self.customer_id)
        response = requests.post(f"{stack.sandbox}/sandbox/mpesa/accounts",
                                 json={"customer_id": self.customer_id, "balance": balance},
                                 timeout=10)
        assert response.status_code == 200, response.text

    def post(self, path, body, **headers):
        return self.http.post(f"{self.stack.api}/api/v1/{path}", json=body, headers=headers,
                              timeout=15)

    def payee(self, last4: str, name: str = "JANE WANJIKU"):
        return self.post("payees", {"pan": luhn_pan(last4, prefix="400000"), "name": name})

    def send(self, last4: str, name: str = "JANE WANJIKU", amount: int = AMOUNT) -> dict:
        payee = self.payee(last4, name)
        assert payee.status_code == 201, payee.text
        quote = self.post("transfer-quotes", {"payee_id": payee.json()["id"],
                                              "amount": {"value": amount, "currency": "KES"}})
        assert quote.status_code == 201, quote.text
        transfer = self.post("transfers", {"quote_id": quote.json()["id"]},
                             **{"Idempotency-Key": str(uuid.uuid4())})
        assert transfer.status_code == 202, transfer.text
        return transfer.json()

    def wait(self, transfer_id, states=TERMINAL, timeout: float = 45.0) -> Transfer:
        states = {states} if isinstance(states, str) else set(states)

        def reached():
            row = Transfer.objects.filter(pk=transfer_id).first()
            return row if row is not None and row.state in states else None

        try:
            return wait_until(reached, timeout=timeout, message=f"{transfer_id} in {states}")
        except AssertionError:
            row = Transfer.objects.filter(pk=transfer_id).first()
            raise AssertionError(f"transfer is {row and row.state}, wanted {states}\n"
                                 f"worker log tail:\n{self.stack.worker.tail()}") from None

    def read(self, transfer_id) -> dict:
        response = self.http.get(f"{self.stack.api}/api/v1/transfers/{transfer_id}", timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def account(self) -> dict:
        return requests.get(f"{self.stack.sandbox}/sandbox/mpesa/accounts/{self.customer_id}",
                            timeout=10).json()

    def stats(self) -> dict:
        return self.stack.sandbox_stats()


@pytest.fixture(autouse=True)
def _fee_schedule(stack):
    from tests.transfers.conftest import install_first_fee_schedule

    install_first_fee_schedule()


def _path(transfer_id):
    return [(r.from_state, r.to_state) for r in TransitionLog.objects.filter(
        machine="transfer", object_id=transfer_id).order_by("id")]


def _money_rule_holds(visa: Visa) -> dict:
    stats = visa.stats()
    assert stats["money_rule"]["ok"], stats["money_rule"]
    assert stats["ledger"]["duplicate_effects"] == 0
    assert stats["payouts"]["duplicate_effects"] == 0
    assert stats["payouts"]["signature_failures"] == 0
    return stats


def test_an_approved_transfer_completes_and_the_hold_is_captured_once(stack):
    visa = Visa(stack)
    created = visa.send("0010")
    transfer = visa.wait(created["id"])
    assert transfer.state == State.COMPLETED
    assert _path(created["id"]) == [("received", "checked"), ("checked", "funds_held"),
                                    ("funds_held", "submitted"), ("submitted", "completed")]
    account = visa.account()
    assert account["balance"] == BALANCE - transfer.total and account["held"] == 0
    stats = _money_rule_holds(visa)
    assert stats["payouts"]["by_code"][created["id"]]["calls"] == 1
    assert visa.read(created["id"])["state"] == "completed"


def test_a_declined_oct_releases_the_hold_and_the_money_is_back(stack):
    visa = Visa(stack)
    created = visa.send("0002")
    transfer = visa.wait(created["id"])
    assert transfer.state == State.DECLINED
    assert visa.account()["balance"] == BALANCE and visa.account()["held"] == 0
    assert visa.read(created["id"])["failure"]["code"] == "declined_by_network"
    _money_rule_holds(visa)


def test_a_card_that_cannot_receive_is_refused_and_nothing_is_held_or_sent(stack):
    visa = Visa(stack)
    response = visa.payee("0051")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "card_cannot_receive"
    stats = visa.stats()
    assert stats["payouts"]["sent_to_cards_that_cannot_receive"] == 0
    assert visa.account()["held"] == 0 and stats["payouts"]["made"] == 0


def test_a_lost_answer_is_resolved_by_status_inquiry_and_captured(stack):
    visa = Visa(stack)
    created = visa.send("0044")  # paid at once, the answer never comes in time
    transfer = visa.wait(created["id"], timeout=60)
    assert transfer.state == State.COMPLETED
    stats = _money_rule_holds(visa)
    assert stats["payouts"]["by_code"][created["id"]]["calls"] == 1  # asked, never resent
    assert visa.account()["balance"] == BALANCE - transfer.total


def test_a_pending_oct_is_approved_after_asking(stack):
    visa = Visa(stack)
    created = visa.send("0036")
    assert visa.wait(created["id"]).state == State.COMPLETED
    assert Transfer.objects.get(pk=created["id"]).inquiries >= 1
    _money_rule_holds(visa)


def test_a_payout_answering_503_twice_is_approved_under_the_same_code(stack):
    visa = Visa(stack)
    created = visa.send("0028")
    assert visa.wait(created["id"], timeout=60).state == State.COMPLETED
    stats = _money_rule_holds(visa)
    assert stats["payouts"]["made"] == 1
    assert list(stats["payouts"]["by_code"]) == [created["id"]]


def test_a_screening_review_approved_in_admin_completes(stack, django_user_model):
    from transfers import services

    visa = Visa(stack)
    created = visa.send("0010", name="JANE REVIEW WANJIKU")
    assert visa.wait(created["id"], State.IN_REVIEW).state == State.IN_REVIEW
    assert visa.account()["held"] == 0
    officer = django_user_model.objects.create_user("officer")
    services.approve_review(created["id"], actor=officer, reason="not the listed person")
    assert visa.wait(created["id"]).state == State.COMPLETED
    row = TransitionLog.objects.get(object_id=created["id"], to_state="checked")
    assert (row.actor, row.reason) == ("officer", "not the listed person")
    _money_rule_holds(visa)


def test_a_sanctions_hit_is_rejected_with_nothing_held(stack):
    visa = Visa(stack)
    created = visa.send("0010", name="JOHN SANCTIONED")
    transfer = visa.wait(created["id"])
    assert (transfer.state, transfer.failure_code) == (State.REJECTED, "sanctions_hit")
    assert visa.account()["balance"] == BALANCE and visa.stats()["ledger"]["holds"]["open"] == 0
    assert visa.stats()["payouts"]["made"] == 0


def test_insufficient_funds_is_rejected_with_nothing_held_or_sent(stack):
    visa = Visa(stack, balance=1000)
    created = visa.send("0010")
    transfer = visa.wait(created["id"])
    assert (transfer.state, transfer.failure_code) == (State.REJECTED, "insufficient_funds")
    assert visa.read(created["id"])["failure"]["code"] == "insufficient_funds"
    assert visa.account()["held"] == 0 and visa.stats()["payouts"]["made"] == 0
