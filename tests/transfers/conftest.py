"""Stand-ins for the four outside systems of Visa Direct, at the client boundary (the only
thing unit tests stub): a ledger that holds and settles once per key, a network that pays
once per code, as the contract in docs/wire-contract.md says."""

from __future__ import annotations

import itertools

import pytest

from core.outside.http import OutsideTimeout, PermanentError
from transfers import attributes, ledger, payouts, screening

_ids = itertools.count(1)


class FakeLedger:
    def __init__(self):
        self.balance = {"cust_test": 10_000_000}
        self.holds: dict[str, dict] = {}  # by hold id
        self.by_key: dict[str, str] = {}  # idempotency key -> hold id
        self.effects: list[tuple[str, str]] = []  # (move, hold id) that moved money
        self.fail_next: list[Exception] = []

    def client(self):
        fake = self

        class Client:
            def hold(self, *, transfer_id, customer_id, amount, fee, currency):
                return fake._hold(transfer_id, customer_id, amount + fee)

            def capture(self, *, transfer_id, hold_id):
                return fake._settle(hold_id, "captured")

            def release(self, *, transfer_id, hold_id):
                return fake._settle(hold_id, "released")

            def holds_for(self, transfer_id):
                return [fake._view(h) for h in fake.holds.values()
                        if h["reference"] == str(transfer_id)]

        return Client

    def _raise_injected(self):
        if self.fail_next:
            raise self.fail_next.pop(0)

    def _view(self, hold):
        return ledger.Hold(hold["id"], hold["status"], hold["total"], hold["reference"])

    def _hold(self, transfer_id, customer_id, total):
        self._raise_injected()
        key = f"{transfer_id}:hold"
        if key in self.by_key:
            return self._view(self.holds[self.by_key[key]])
        if self.balance.get(customer_id, 0) < total:
            raise ledger.InsufficientFunds("insufficient_funds", system="mpesa", status=422)
        hold_id = f"hold_{next(_ids)}"
        self.holds[hold_id] = {"id": hold_id, "status": "held", "total": total,
                               "reference": str(transfer_id), "customer": customer_id}
        self.balance[customer_id] -= total
        self.by_key[key] = hold_id
        self.effects.append(("hold", hold_id))
        return self._view(self.holds[hold_id])

    def _settle(self, hold_id, status):
        self._raise_injected()
        hold = self.holds[hold_id]
        if hold["status"] == status:
            return self._view(hold)
        if hold["status"] != "held":
            code = "hold_captured" if hold["status"] == "captured" else "hold_released"
            raise ledger.HoldAlreadySettled(code, system="mpesa", status=409)
        hold["status"] = status
        if status == "released":
            self.balance[hold["customer"]] += hold["total"]
        self.effects.append((status, hold_id))
        return self._view(hold)

    def moves(self, status):
        return [e for e in self.effects if e[0] == status]


class FakeNetwork:
    """Payouts + search: one payout per code; a scripted answer per send."""

    def __init__(self):
        self.payouts: dict[str, payouts.PayoutStatus] = {}
        self.sends: list[str] = []
        self.send_script: list = []  # per send: "approved" | "declined" | "pending" | Exception
        self.status_script: list = []  # per inquiry: override
        self.lose_answer_after_paying = False
        self.searches = 0
        self.cannot_receive: set[str] = set()
        self.screening = "clear"
        self.screenings = 0
        self.pans_sent: list[str] = []

    def client(self):
        fake = self

        class Client:
            def send(self, oct_):
                return fake._send(oct_)

            def status(self, transfer_id):
                fake.searches += 1
                if fake.status_script:
                    step = fake.status_script.pop(0)
                    if isinstance(step, Exception):
                        raise step
                    if step is not None:
                        fake.payouts[transfer_id] = payouts.PayoutStatus(step, "p1")
                return fake.payouts.get(transfer_id)

        return Client

    def _send(self, oct_):
        self.sends.append(oct_.transfer_id)
        self.pans_sent.append(oct_.pan)
        if oct_.transfer_id in self.payouts:
            return self.payouts[oct_.transfer_id]  # a replay pays nothing more
        step = self.send_script.pop(0) if self.send_script else "approved"
        if isinstance(step, Exception):
            raise step
        status = payouts.PayoutStatus(step, f"payout_{next(_ids)}",
                                      "00" if step == "approved" else "",
                                      "123456" if step == "approved" else "")
        self.payouts[oct_.transfer_id] = status
        if self.lose_answer_after_paying:
            raise OutsideTimeout("payouts_timeout", system="payouts")
        return status

    def attributes_client(self):
        fake = self

        class Client:
            def inquire(self, pan):
                if pan in fake.cannot_receive:
                    return attributes.CardAttributes(False, False, "KE", "KES", "D", "BANK")
                return attributes.CardAttributes(True, not pan.endswith("0077"), "KE", "KES",
                                                 "D", "BANK")

        return Client

    def screening_client(self):
        fake = self

        class Client:
            def screen(self, *, name, country, reference):
                fake.screenings += 1
                if isinstance(fake.screening, Exception):
                    raise fake.screening
                return screening.Screening("scr_1", fake.screening)

        return Client


@pytest.fixture
def fake_ledger(monkeypatch):
    fake = FakeLedger()
    monkeypatch.setattr(ledger, "LedgerClient", fake.client())
    return fake


@pytest.fixture
def network(monkeypatch):
    fake = FakeNetwork()
    monkeypatch.setattr(payouts, "PayoutsClient", fake.client())
    monkeypatch.setattr(attributes, "AttributesClient", fake.attributes_client())
    monkeypatch.setattr(screening, "ScreeningClient", fake.screening_client())
    return fake


@pytest.fixture
def no_tasks(monkeypatch):
    """Record what would be enqueued instead of sending it to a broker."""
    from transfers import tasks

    enqueued: list[tuple[str, str]] = []
    for name in ("check_transfer_task", "hold_funds_task", "send_payout_task",
                 "inquire_payout_task", "settle_transfer_task", "give_up_hold_task",
                 "reject_stuck_transfer_task"):
        task = getattr(tasks, name)
        monkeypatch.setattr(task, "delay_on_commit",
                            lambda transfer_id, _n=name: enqueued.append((_n, transfer_id)))
        monkeypatch.setattr(task, "apply_async",
                            lambda args, _n=name, **kw: enqueued.append((_n, args[0])))
    return enqueued


__all__ = ["PermanentError"]


def install_first_fee_schedule():
    """What migration 0002 installs: a transactional test elsewhere flushes every table,
    and the shared fixture that restores migration data does not know this app yet."""
    import importlib

    from django.apps import apps

    importlib.import_module("transfers.migrations.0002_first_fee_schedule").install(apps, None)


@pytest.fixture(autouse=True)
def _fee_schedule(request):
    if request.node.get_closest_marker("django_db") is not None:
        request.getfixturevalue("db")
        install_first_fee_schedule()
