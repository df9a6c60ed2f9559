"""In-memory world of the Visa Direct counterparts: M-Pesa accounts and holds, payouts,
screenings and the settlement report's injected lines (the money checks over them are
sandbox/visa_direct_stats.py).

One instance lives on SandboxState (`state.visa_direct`) and, like the rest of the
state, is read and changed only under `state.lock`. Money is integer minor units of KES
everywhere here; only the CyberSource-shaped answers render it as a decimal string.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from .visa_direct_stats import world_stats

if TYPE_CHECKING:
    from .state import IdempotencyRecord

CURRENCY = "KES"
MINOR_PER_MAJOR = 100  # KES has two minor digits
# Seeded opening balances (sandbox/README.md "M-Pesa accounts"), minor units.
SEEDED_BALANCES = {"cust_demo": 5_000_000, "cust_other": 5_000_000}


def iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def render_amount(minor: int) -> str:
    """Minor units as CyberSource's decimal string: 150050 -> "1500.50"."""
    major, cents = divmod(minor, MINOR_PER_MAJOR)
    return f"{major}.{cents:02d}"


# M-Pesa ledger ------------------------------------------------------------------------


@dataclass
class Account:
    customer_id: str
    balance: int = 0  # what the customer owns, held money included
    held: int = 0
    operations: list[dict[str, Any]] = field(default_factory=list)

    @property
    def available(self) -> int:
        return self.balance - self.held

    def public(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "currency": CURRENCY,
            "balance": self.balance,
            "held": self.held,
            "available": self.available,
        }


@dataclass
class Hold:
    hold_id: str
    customer_id: str
    amount: int
    fee: int
    reference: str
    created_at: str
    status: str = "held"  # held | captured | released
    captured_at: str | None = None
    released_at: str | None = None
    settlements: int = 0  # captures plus releases applied; more than one is a sandbox bug
    settle_answer: dict[str, Any] | None = None  # replayed to a repeated capture or release

    @property
    def total(self) -> int:
        return self.amount + self.fee

    def public(self) -> dict[str, Any]:
        return {
            "hold_id": self.hold_id,
            "customer_id": self.customer_id,
            "amount": self.amount,
            "fee": self.fee,
            "total": self.total,
            "currency": CURRENCY,
            "reference": self.reference,
            "status": self.status,
            "created_at": self.created_at,
            "captured_at": self.captured_at,
            "released_at": self.released_at,
        }


# payouts ------------------------------------------------------------------------------


@dataclass
class Payout:
    payout_id: str  # CyberSource's request id: 22 digits
    code: str  # clientReferenceInformation.code, the service's transfer id
    amount: int
    business_application_id: str
    reconciliation_id: str
    card_last4: str
    recipient_country: str
    submitted_at: datetime
    status: str  # ACCEPTED | DECLINED | PENDING
    response_code: str | None  # the issuer's ISO 8583 code; none while PENDING
    network_transaction_id: str
    approval_code: str | None = None
    error_reason: str | None = None
    error_message: str | None = None
    approve_at: float | None = None  # PENDING: when the network's answer becomes approval

    @property
    def submit_time_utc(self) -> str:
        return self.submitted_at.strftime("%Y-%m-%dT%H:%M:%SZ")

    @property
    def day(self) -> date:
        return self.submitted_at.date()


@dataclass
class Screening:
    screening_id: str
    result: str  # clear | review | hit
    reference: str | None
    screened_at: str

    def public(self) -> dict[str, Any]:
        return {
            "screening_id": self.screening_id,
            "result": self.result,
            "reference": self.reference,
            "screened_at": self.screened_at,
        }


def _digits(count: int) -> str:
    return str(secrets.randbelow(9) + 1) + "".join(
        str(secrets.randbelow(10)) for _ in range(count - 1)
    )


class VisaDirectWorld:
    def __init__(self, *, seed_accounts: bool) -> None:
        self.accounts: dict[str, Account] = {}
        self.holds: dict[str, Hold] = {}
        self.ledger_keys: dict[str, IdempotencyRecord] = {}
        self.ledger_effects: set[str] = set()
        self.ledger_duplicate_effects = 0
        self.ledger_refusals: Counter[str] = Counter(
            dict.fromkeys(
                ("insufficient_funds", "account_not_found", "hold_captured", "hold_released"), 0
            )
        )
        self.repeated_settlements: Counter[str] = Counter({"capture": 0, "release": 0})

        self.payouts: dict[str, Payout] = {}  # by payout id
        self.payouts_by_code: dict[str, Payout] = {}
        self.payout_requests: dict[str, IdempotencyRecord] = {}  # by code
        self.payout_duplicate_effects = 0
        self.sent_to_cards_that_cannot_receive = 0

        self.attribute_answers: Counter[str] = Counter(
            dict.fromkeys(("fast_funds", "no_fast_funds", "cannot_receive"), 0)
        )
        self.screenings: dict[str, Screening] = {}

        self.unknown_lines: dict[date, list[dict[str, str]]] = {}
        self.line_changes: dict[str, dict[str, Any]] = {}  # by code: {"amount": int} | {"omit"}

        if seed_accounts:
            for customer_id, balance in SEEDED_BALANCES.items():
                self.set_balance(customer_id, balance)

    # ledger -----------------------------------------------------------------------------

    def _log(self, account: Account, kind: str, **details: Any) -> None:
        account.operations.append(
            {
                "type": kind,
                **details,
                "balance_after": account.balance,
                "held_after": account.held,
                "at": iso_now(),
            }
        )

    def _note_ledger_effect(self, key: str) -> None:
        if key in self.ledger_effects:
            self.ledger_duplicate_effects += 1
        self.ledger_effects.add(key)

    def set_balance(self, customer_id: str, balance: int) -> Account:
        account = self.accounts.get(customer_id)
        if account is None:
            account = self.accounts[customer_id] = Account(customer_id)
        account.balance = balance
        self._log(account, "set_balance", amount=balance)
        return account

    def place_hold(
        self, key: str, *, customer_id: str, amount: int, fee: int, reference: str
    ) -> Hold:
        account = self.accounts[customer_id]
        hold = Hold(
            hold_id="hold_" + secrets.token_hex(10),
            customer_id=customer_id,
            amount=amount,
            fee=fee,
            reference=reference,
            created_at=iso_now(),
        )
        self._note_ledger_effect(key)
        self.holds[hold.hold_id] = hold
        account.held += hold.total
        self._log(account, "hold", hold_id=hold.hold_id, reference=reference, amount=hold.total)
        return hold

    def settle_hold(self, key: str, hold: Hold, operation: str) -> None:
        """Capture (the money leaves the balance) or release (it is available again)."""
        account = self.accounts[hold.customer_id]
        self._note_ledger_effect(key)
        hold.settlements += 1
        account.held -= hold.total
        if operation == "capture":
            account.balance -= hold.total
            hold.status, hold.captured_at = "captured", iso_now()
        else:
            hold.status, hold.released_at = "released", iso_now()
        self._log(
            account, operation, hold_id=hold.hold_id, reference=hold.reference, amount=hold.total
        )

    # payouts ----------------------------------------------------------------------------

    def new_payout_id(self) -> str:
        while True:
            payout_id = _digits(22)
            if payout_id not in self.payouts:
                return payout_id

    @staticmethod
    def approval_code() -> str:
        return f"{secrets.randbelow(1_000_000):06d}"

    @staticmethod
    def network_transaction_id() -> str:
        return _digits(15)

    def add_payout(self, payout: Payout) -> None:
        if payout.code in self.payouts_by_code:
            self.payout_duplicate_effects += 1
        self.payouts[payout.payout_id] = payout
        self.payouts_by_code[payout.code] = payout

    def refresh(self, now: float | None = None) -> None:
        """A pending payout is approved once its delay has passed, asked about or not."""
        now = time.time() if now is None else now
        for payout in self.payouts.values():
            if payout.status == "PENDING" and payout.approve_at is not None:
                if now >= payout.approve_at:
                    payout.status = "ACCEPTED"
                    payout.response_code = "00"
                    payout.approval_code = self.approval_code()
                    payout.approve_at = None

    # settlement report ------------------------------------------------------------------

    def settlement_lines(self, day: date) -> list[dict[str, str]]:
        self.refresh()
        lines = []
        settled = sorted(
            (p for p in self.payouts.values() if p.status == "ACCEPTED" and p.day == day),
            key=lambda p: p.submitted_at,
        )
        for payout in settled:
            change = self.line_changes.get(payout.code, {})
            if change.get("omit"):
                continue
            lines.append(
                {
                    "request_id": payout.payout_id,
                    "client_reference_code": payout.code,
                    "reconciliation_id": payout.reconciliation_id,
                    "amount": render_amount(change.get("amount", payout.amount)),
                    "currency": CURRENCY,
                    "status": payout.status,
                    "submit_time_utc": payout.submit_time_utc,
                }
            )
        return lines + self.unknown_lines.get(day, [])

    # stats ------------------------------------------------------------------------------

    def stats(self, counters: Any) -> dict[str, Any]:
        """The Visa Direct sections of /sandbox/stats (sandbox/visa_direct_stats.py)."""
        self.refresh()
        return world_stats(self, counters)
